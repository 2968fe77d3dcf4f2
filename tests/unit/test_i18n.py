"""The helpers' messages in Korean (helpers.i18n): the catalog, the language choice, and the Korean the learner
reads from the lab checks, the linter and preflight; English stays exactly as the code writes it."""

from __future__ import annotations

import ast
import re
import sys
import types

import pytest

from helpers import checks, config, i18n, lint, preflight

BROKEN = config.PROJECT_ROOT / "labs" / "broken" / "article-ray-service.yaml"
SOLVED = config.PROJECT_ROOT / "labs" / "solutions" / "lab01.yaml"


@pytest.fixture(autouse=True)
def no_language_set(monkeypatch, tmp_path):
    monkeypatch.delenv(i18n.ENV, raising=False)
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path / "answers"))


def korean(monkeypatch):
    monkeypatch.setenv(i18n.ENV, "ko")


def hangul(text: str) -> bool:
    return re.search("[\uac00-\ud7a3]", text) is not None


# -- the catalog ------------------------------------------------------------------------------------------------------
# Every message the code translates is a literal _("...") or N_("...") call in helpers/; the Korean catalog holds
# exactly those, each with the placeholders its English has.

HELPERS = config.PROJECT_ROOT / "helpers"
MARKERS = ("_", "N_")
PARTICLE_AFTER_PLACEHOLDER = re.compile(r"\{\w+\}(은|는|이|가|을|를|와|과|으로|로|\(으\))")


def _marker(call: ast.Call) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name if name in MARKERS else None


def extracted() -> dict[str, list[tuple[str, ast.Call]]]:
    """msgid -> [(file, call)] of every _("literal", ...) and N_("literal") in helpers/."""
    found: dict[str, list[tuple[str, ast.Call]]] = {}
    for path in sorted(HELPERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _marker(node) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    where = str(path.relative_to(config.PROJECT_ROOT))
                    found.setdefault(first.value, []).append((where, node))
    return found


def catalog() -> list:
    from babel.messages.pofile import read_po

    with i18n.catalog_path("ko").open("rb") as po:
        return [m for m in read_po(po) if m.id]


def test_every_message_of_the_code_is_in_the_catalog():
    ids = {m.id for m in catalog()}
    missing = sorted(set(extracted()) - ids)
    assert not missing, f"not in {i18n.catalog_path('ko').relative_to(config.PROJECT_ROOT)}: {missing}"


def test_every_catalog_entry_is_used_by_the_code():
    code = extracted()
    unused = [message.id for message in catalog() if message.id not in code]
    assert not unused, f"catalog entries no code uses: {unused}"


def test_catalog_locations_name_the_modules_that_use_each_message():
    code = extracted()
    for message in catalog():
        want = sorted({where for where, _call in code.get(message.id, [])})
        assert sorted({path for path, _line in message.locations}) == want, message.id


@pytest.mark.parametrize("message", catalog(), ids=lambda m: m.id[:60])
def test_each_translation_has_the_placeholders_of_its_english(message):
    assert message.string and message.string.strip(), f"{message.id!r} has no Korean"
    assert sorted(i18n.fields(message.id)) == sorted(i18n.fields(message.string)), message.id
    assert hangul(message.string), f"{message.id!r}: the Korean has no Korean in it"
    values = {name: "<x>" for name in i18n.fields(message.id)}
    message.id.format(**values), message.string.format(**values)  # no lone brace in either
    assert not message.fuzzy, f"{message.id!r} is marked fuzzy: check the Korean and remove the flag"


@pytest.mark.parametrize("message", catalog(), ids=lambda m: m.id[:60])
def test_no_particle_depends_on_a_placeholders_value(message):
    """A particle after a placeholder (은/는, 이/가, 을/를, 와/과, (으)로) fits only some values: the Korean says it
    another way (e.g. "{name} 값을", "다음과 같이 쓰세요: {fix}")."""
    assert not PARTICLE_AFTER_PLACEHOLDER.search(message.string), message.string


def test_each_call_passes_the_placeholders_of_its_message():
    for msgid, calls in extracted().items():
        for where, call in calls:
            if _marker(call) == "N_" or any(k.arg is None for k in call.keywords):  # N_(), or **values
                continue
            assert sorted({k.arg for k in call.keywords}) == sorted(set(i18n.fields(msgid))), f"{where}: {msgid!r}"


def test_no_module_rebinds_the_underscore_it_translates_with():
    """`_, x = pair` in a function that calls _("...") makes _ a local there: the call fails at run time."""
    for path in sorted(HELPERS.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            calls = [n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
            if not any(call.func.id == "_" for call in calls):
                continue
            bound = [
                n
                for n in ast.walk(function)
                if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
            ]
            assert not bound, f"{path.name}:{bound[0].lineno if bound else ''} binds _ in {function.name}()"


def test_a_message_is_looked_up_before_it_is_filled_in(monkeypatch):
    assert i18n._("{count} cores", count=4) == "4 cores"
    korean(monkeypatch)
    assert i18n._("{count} cores", count=4) == "코어 4개"
    assert i18n._("a message no catalog has: {x}", x=1) == "a message no catalog has: 1"
    assert i18n.N_("Fix the article's manifest") == "Fix the article's manifest"


# -- which language ------------------------------------------------------------------------------------------------


def test_english_is_the_default_and_LANG_is_not_read(monkeypatch):
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert i18n.lang() == "en"


@pytest.mark.parametrize("value", ["ko", "KO", "ko_KR", "ko-KR"])
def test_tutorial_lang_chooses_korean(monkeypatch, value):
    monkeypatch.setenv(i18n.ENV, value)
    assert i18n.lang() == "ko"


@pytest.mark.parametrize("value", ["en", "", "fr", "xx"])
def test_other_values_mean_english(monkeypatch, value):
    monkeypatch.setenv(i18n.ENV, value)
    assert i18n.lang() == "en"


def _fake_kernel(monkeypatch, user_ns: dict) -> None:
    shell = types.SimpleNamespace(user_ns=user_ns)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_the_lessons_parameter_wins_over_the_environment(monkeypatch):
    _fake_kernel(monkeypatch, {"TUTORIAL_LANG": "ko"})
    assert i18n.lang() == "ko"
    monkeypatch.setenv(i18n.ENV, "ko")
    _fake_kernel(monkeypatch, {"TUTORIAL_LANG": "en"})
    assert i18n.lang() == "en"
    _fake_kernel(monkeypatch, {})  # an English lesson has no such parameter: the environment decides
    assert i18n.lang() == "ko"


# -- what learners read ----------------------------------------------------------------------------------------------


def test_lint_report_in_both_languages(monkeypatch):
    english = lint.lint_files([str(BROKEN)])[0].render()
    assert english.splitlines()[0].endswith("article-ray-service.yaml: 4 error(s), 2 warning(s)")
    assert "  error [api-version] apiVersion ray.io/v1alpha1 is deprecated" in english
    assert not hangul(english)
    monkeypatch.setenv(i18n.ENV, "en")
    assert lint.lint_files([str(BROKEN)])[0].render() == english
    korean(monkeypatch)
    ko = lint.lint_files([str(BROKEN)])[0].render()
    assert ko.splitlines()[0].endswith("article-ray-service.yaml: 오류 4개, 경고 2개")
    assert len(ko.splitlines()) == len(english.splitlines())  # the same findings, the example indented alike
    for line in ko.splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("   "):
            assert line.startswith(("  오류 [", "  경고 [")) and hangul(line.split("]", 1)[1]), line
    assert "KubeRay 1.9에서 제거" in ko and "      serveConfigV2: |" in ko
    assert str(lint.lint_files([str(BROKEN)])[0].findings[0]).startswith("오류 [api-version] apiVersion")
    ok = lint.lint_files([str(config.MANIFESTS_DIR / "ray-service.yaml")])[0].render()
    assert ok.endswith(f": 문제 없음 (규칙 {len(lint.RULES)}개)")


def test_lab01_result_in_both_languages(monkeypatch, capsys):
    path = checks.start("lab01")
    assert "Your file:" in capsys.readouterr().out
    english = str(checks.lab01(path))
    assert english.startswith("❌ lab01 not yet. Hint: [api-version] apiVersion ray.io/v1alpha1 is deprecated")
    korean(monkeypatch)
    checks.start("lab01")
    assert "내 파일:" in capsys.readouterr().out
    ko = str(checks.lab01(path))
    assert ko.startswith("❌ lab01 아직 아닙니다. 힌트: [api-version] apiVersion ray.io/v1alpha1은")
    assert "(이 뒤로 5개 더 있음)" in ko
    path.write_text(SOLVED.read_text())
    passed = str(checks.lab01(path)).splitlines()
    assert passed[0] == "✅ lab01 통과: 원문 매니페스트 고치기"
    assert passed[1] == "   · lint: 오류 없음, 경고 없음"
    assert all(hangul(line) for line in passed)


def test_lab01_secret_hint_in_korean(monkeypatch):
    text = SOLVED.read_text()
    path = checks.start("lab01")
    # Remove the worker group's AWS_SECRET_ACCESS_KEY: the hint names the container and shows the entry to add.
    head, _, workers = text.partition("workerGroupSpecs")
    cut = re.sub(r"\n\s*- name: AWS_SECRET_ACCESS_KEY\n(\s+.*\n){2,3}", "\n", workers, count=1)
    assert cut != workers
    path.write_text(head + "workerGroupSpecs" + cut)
    english = checks.lab01(path)
    assert "container has no env AWS_SECRET_ACCESS_KEY read from a Secret" in english.hint
    korean(monkeypatch)
    ko = str(checks.lab01(path))
    assert "컨테이너의 env에 Secret에서 읽는 AWS_SECRET_ACCESS_KEY 항목이 없습니다" in ko and "워커 그룹 " in ko
    assert "secretKeyRef: {name: aws-credentials, key: AWS_SECRET_ACCESS_KEY}" in ko


@pytest.mark.parametrize(
    "serving, retries, failed, words",
    [
        ({"replica killed": 1, "worker node lost": 1}, False, None, "하나를 잃어도 2개가"),
        ({"replica killed": 2, "worker node lost": 0}, False, None, "max_replicas_per_node"),
        ({"replica killed": 2, "worker node lost": 2}, False, "replica killed", "다시 보낼 수 있는 쪽"),
        ({"replica killed": 2, "worker node lost": 2}, True, "worker node lost", "재시도를 켰는데도"),
    ],
)
def test_lab03_hints_in_korean(monkeypatch, serving, retries, failed, words):
    """The hint is made in the learner's language, the fault's name and the placement in it too."""
    hint = checks.chaos_hint(3, serving, {"abc": 2, "def": 1}, retries, failed)
    english = str(checks.CheckResult("lab03", False, hint))
    assert english == f"❌ lab03 not yet. Hint: {hint}" and not hangul(english)
    korean(monkeypatch)
    hint = checks.chaos_hint(3, serving, {"abc": 2, "def": 1}, retries, failed)
    ko = str(checks.CheckResult("lab03", False, hint))
    assert ko.startswith("❌ lab03 아직 아닙니다. 힌트: ") and words in ko
    assert not re.search(r"\b(budget|served|requests|replicas|killed|lost|on node)\b", ko), ko


def test_lab03_file_problems_in_korean(monkeypatch, tmp_path):
    path = tmp_path / "lab03-answer.yaml"
    path.write_text("num_replicas: 9\nmax_replicas_per_node: null\nclient_retries: false\n")
    _, english = checks.lab03_choices(path)
    assert "write a whole number from 1 to 6" in english
    korean(monkeypatch)
    _, problem = checks.lab03_choices(path)
    ko = str(checks.CheckResult("lab03", False, problem))
    assert "1부터 6까지의 정수를 쓰세요" in ko


def test_preflight_in_both_languages(monkeypatch):
    """Each check is made in the learner's language: its name and its detail."""
    from helpers.backends.commands import INSTALL_HINTS

    no_tools = types.SimpleNamespace(which=lambda tool: None)
    monkeypatch.setattr(preflight.os, "cpu_count", lambda: 4)

    def found() -> list:
        cores = [c for c in preflight.local_checks() if "2" in c.name and "CPU" in c.name]
        return cores + [preflight._tool(no_tools, "kind", ["version"]), preflight.memory_check(3.0, None)]

    english = preflight.report(found())
    assert english.splitlines()[:2] == [
        "✓ CPU cores >= 2: 4 cores",
        f"✗ kind installed: not found: {INSTALL_HINTS['kind']}",
    ]
    assert not hangul(english)
    korean(monkeypatch)
    ko = preflight.report(found()).splitlines()
    assert ko[0] == "✓ CPU 코어 >= 2: 코어 4개"
    assert ko[1] == f"✗ kind 설치됨: 찾을 수 없음: {INSTALL_HINTS['kind']}"
    assert ko[2].startswith("✗ Docker 메모리 >= ") and "Docker 메모리는 3.0 GiB인데" in ko[2]
    assert "Docker 메모리를 늘리세요" in ko[2] and "가장 많이 필요한 레슨" in ko[2]


# -- the Korean notebooks' working directory --------------------------------------------------------------------


def test_korean_notebooks_run_in_the_english_folder(monkeypatch, tmp_path):
    (tmp_path / "helpers").mkdir()
    for folder in ("notebooks", "labs"):
        (tmp_path / folder / "ko").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / folder / "ko")
        i18n.use_english_folder()
        assert i18n.english_folder(tmp_path / folder / "ko") == tmp_path / folder
        assert __import__("pathlib").Path.cwd() == tmp_path / folder
    monkeypatch.chdir(tmp_path / "notebooks")
    i18n.use_english_folder()  # an English notebook: stays where it is
    assert __import__("pathlib").Path.cwd() == tmp_path / "notebooks"
    (tmp_path / "other" / "ko").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "other" / "ko")
    i18n.use_english_folder()
    assert __import__("pathlib").Path.cwd() == tmp_path / "other" / "ko"


# The linter's own English joining words: none may be left in a Korean finding (Ray's, pydantic's and jsonschema's
# messages stay as they print, and none of them holds these).
LINT_ENGLISH = re.compile(r"; write |did you mean|rejects|is missing|which is not|not one of| is not a |To fix it")


def _bad_examples():
    """(rule, how to break the good manifest) of every rule's bad example and of each KubeRay validation check."""
    from tests.unit.test_lint import BAD
    from tests.unit.test_lint_schemas import KUBERAY

    yield from ((rule_id, mutate) for rule_id, (mutate, _words) in BAD.items())
    yield from ((rule_id, mutate) for rule_id, mutate, _words, _fix in KUBERAY)


def test_every_lint_rules_finding_reads_in_korean(monkeypatch):
    """Each rule's bad example, linted with TUTORIAL_LANG=ko, gives findings made in Korean: the message, its
    parts (reason, did-you-mean, what to write) and the severity word."""
    from tests.unit.test_lint import BAD, good

    korean(monkeypatch)
    checked = set()
    for rule_id, mutate in _bad_examples():
        raw = good()
        mutate(raw)
        found = [f for f in lint.lint(raw) if f.rule == rule_id]
        assert found, rule_id
        for finding in found:
            assert hangul(finding.message) and not LINT_ENGLISH.search(finding.message), f"[{rule_id}] {finding}"
            assert str(finding).startswith(("오류 [", "경고 [")), finding
        checked.add(rule_id)
    assert checked == set(BAD) == {r.id for r in lint.RULES}


def test_the_rule_list_reads_in_korean(monkeypatch, capsys):
    from helpers.__main__ import main

    monkeypatch.setenv("TUTORIAL_LANG", "ko")
    assert main(["lint", "--rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(lint.RULES)
    for rule, line in zip(lint.RULES, lines):
        assert line.startswith(rule.id) and hangul(line.split(None, 1)[1]), line
