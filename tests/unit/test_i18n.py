"""The helpers' messages in Korean (helpers.i18n): the catalog, the language choice, and the Korean the learner
reads from the lab checks, the linter and preflight; English stays exactly as the code writes it."""

from __future__ import annotations

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


@pytest.mark.parametrize("message_id", sorted(i18n.CATALOG))
def test_every_catalog_id_has_korean_with_the_same_fields(message_id):
    en, ko = i18n.CATALOG[message_id]
    assert ko and ko.strip(), f"{message_id} has no Korean"
    assert sorted(set(i18n.fields(en))) == sorted(set(i18n.fields(ko))), message_id
    assert hangul(ko) or ko == en, f"{message_id}: the Korean has no Korean in it"
    assert i18n.literal(en).strip(), f"{message_id}: a template that is only fields would match anything"


def _normalized_source(module: str) -> str:
    """The module's source with adjacent string literals joined and escapes read, the way its messages print."""
    text = (config.PROJECT_ROOT / "helpers" / f"{module}.py").read_text()
    text = re.sub(r"[\"']\s*\n\s*[rfb]{0,2}[\"']", "", text)  # "...abc " "def..." -> "...abc def..."
    return text.replace("\\n", "\n").replace("{{", "{").replace("}}", "}").replace("\\'", "'")


@pytest.mark.parametrize("message_id", sorted(i18n.CATALOG))
def test_english_templates_are_what_the_code_writes(message_id):
    """A template whose English no longer occurs in its module would never match: the code changed its wording,
    so the Korean must be updated with it (the id's first part names the module: checks, lint, preflight)."""
    en, _ = i18n.CATALOG[message_id]
    source = _normalized_source(message_id.split(".")[0])
    for text, _, _, _ in i18n._FORMATTER.parse(en):
        if len(text.strip()) >= 4:
            assert text in source, f"{message_id}: {text!r} is not in helpers/{message_id.split('.')[0]}.py"


@pytest.mark.parametrize("message_id", sorted(i18n.CATALOG))
def test_each_english_template_renders_its_korean(message_id):
    en, ko = i18n.CATALOG[message_id]
    values = {name: f"<{name}>" if name not in i18n.NUMBER_FIELDS else "7" for name in i18n.fields(en)}
    english = en.format(**values)
    assert i18n.tr(english, "en") == english
    assert i18n.tr(english, "ko") == ko.format(**values)


def test_a_message_holding_the_separator_in_a_field():
    """The first lint finding quoted in a lab hint: the message has " (" in it, the count is a number."""
    message = (
        "[api-version] apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1"
    )
    out = i18n.tr(message + " (5 more after this one)", "ko")
    assert out.startswith("[api-version] apiVersion ray.io/v1alpha1은 더 이상 권장되지 않습니다(KubeRay 1.9에서 제거)")
    assert out.endswith("(이 뒤로 5개 더 있음)")


def test_unknown_messages_stay_as_they_are():
    assert i18n.tr("something no template knows", "ko") == "something no template knows"
    assert i18n.tr("", "ko") == ""


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
    assert "컨테이너에 Secret에서 읽는 env AWS_SECRET_ACCESS_KEY이(가) 없습니다" in ko and "워커 그룹 " in ko
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
    hint = checks.chaos_hint(3, serving, {"abc": 2, "def": 1}, retries, failed)
    english = str(checks.CheckResult("lab03", False, hint))
    assert english == f"❌ lab03 not yet. Hint: {hint}"
    korean(monkeypatch)
    ko = str(checks.CheckResult("lab03", False, hint))
    assert ko.startswith("❌ lab03 아직 아닙니다. 힌트: ") and words in ko
    assert not re.search(r"\b(budget|served|requests|replicas)\b", ko), ko


def test_lab03_file_problems_in_korean(monkeypatch, tmp_path):
    path = tmp_path / "lab03-answer.yaml"
    path.write_text("num_replicas: 9\nmax_replicas_per_node: null\nclient_retries: false\n")
    _, english = checks.lab03_choices(path)
    assert "write a whole number from 1 to 6" in english
    korean(monkeypatch)
    ko = str(checks.CheckResult("lab03", False, english))
    assert "1부터 6까지의 정수를 쓰세요" in ko


def test_preflight_in_both_languages(monkeypatch):
    found = [
        preflight.Check("CPU cores >= 2", True, "4 cores"),
        preflight.Check("kind installed", False, "not found: see https://kind.sigs.k8s.io"),
        preflight.memory_check(3.0, None),
    ]
    english = preflight.report(found)
    assert english.splitlines()[:2] == [
        "✓ CPU cores >= 2: 4 cores",
        "✗ kind installed: not found: see https://kind.sigs.k8s.io",
    ]
    korean(monkeypatch)
    ko = preflight.report(found).splitlines()
    assert ko[0] == "✓ CPU 코어 >= 2: 코어 4개"
    assert ko[1] == "✗ kind 설치됨: 찾을 수 없음: see https://kind.sigs.k8s.io"
    assert ko[2].startswith("✗ Docker 메모리 >= ") and "Docker 메모리는 3.0 GiB인데" in ko[2]
    assert "Docker 메모리를 늘리세요" in ko[2]


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


def test_every_lint_rules_finding_reads_in_korean():
    """Each rule's bad example (tests/unit/test_lint.py) gives a finding that has a Korean translation."""
    from tests.unit.test_lint import BAD, good

    for rule_id, (mutate, _) in BAD.items():
        raw = good()
        mutate(raw)
        found = [f for f in lint.lint(raw) if f.rule == rule_id]
        assert found, rule_id
        for finding in found:
            assert hangul(i18n.tr(finding.message, "ko")), f"[{rule_id}] {finding.message}"


def test_the_rule_list_reads_in_korean(monkeypatch, capsys):
    from helpers.__main__ import main

    monkeypatch.setenv("TUTORIAL_LANG", "ko")
    assert main(["lint", "--rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(lint.RULES)
    for rule, line in zip(lint.RULES, lines):
        assert line.startswith(rule.id) and hangul(line.split(None, 1)[1]), line
