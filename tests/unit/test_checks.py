"""The lab graders reject wrong answers with the right hint (the parts that need no cluster).

Wrong answers that need a running cluster (not applied, a failing chaos round, a failing update) are
in tests/integration/test_lab_graders.py; the solutions pass in tests/notebooks/test_labs.py.
"""

import json

import pytest
import yaml

from helpers import checks


@pytest.fixture(autouse=True)
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    return tmp_path


def solved_lab01():
    path = checks.start("lab01", reset=True)
    exec((checks.LABS_DIR / "solutions" / "lab01.py").read_text(), {"path": path})
    return path


def edit(path, mutate):
    raw = yaml.safe_load(path.read_text())
    mutate(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def containers(raw, group):
    cluster = raw["spec"]["rayClusterConfig"]
    spec = cluster["headGroupSpec"] if group == "head" else cluster["workerGroupSpecs"][0]
    return spec["template"]["spec"]["containers"]


def test_lab01_start_file_fails_on_the_first_lint_error():
    checks.start("lab01")
    result = checks.lab01()
    assert not result.passed and result.hint.startswith("[api-version]") and "more after this one" in result.hint
    assert json.loads((checks.answers_dir() / "results.json").read_text())["lab01"]["passed"] is False


def test_lab01_start_keeps_the_learners_edits(capsys):
    path = checks.start("lab01")
    path.write_text("mine")
    assert checks.start("lab01").read_text() == "mine" and "kept" in capsys.readouterr().out
    assert checks.start("lab01", reset=True).read_text() != "mine"


def test_lab01_solution_passes():
    assert checks.lab01(solved_lab01()).passed


@pytest.mark.parametrize(
    "mutate, hint",
    [
        # Keys moved out of serveConfigV2, but written inline into the pod env.
        (
            lambda r: containers(r, "head")[0]["env"].__setitem__(0, {"name": "AWS_ACCESS_KEY_ID", "value": "x"}),
            "[inline-credentials]",
        ),
        # The Secret is referenced from the head only: the worker's replicas would have no keys.
        (
            lambda r: containers(r, "worker")[0].pop("env"),
            "worker group workers container has no env AWS_ACCESS_KEY_ID",
        ),
        # Back to an object-shaped serveConfigV2.
        (
            lambda r: r["spec"].__setitem__("serveConfigV2", yaml.safe_load(r["spec"]["serveConfigV2"])),
            "[serve-config-string]",
        ),
        # The serve port unnamed again: a warning, and the lab asks for none.
        (lambda r: containers(r, "head")[0]["ports"][0].pop("name"), "the linter still warns: [serve-port]"),
        # The app renamed.
        (
            lambda r: r["spec"].__setitem__("serveConfigV2", r["spec"]["serveConfigV2"].replace("/hello", "/hi")),
            "keep the article's application",
        ),
        (
            lambda r: r["spec"].__setitem__(
                "serveConfigV2", r["spec"]["serveConfigV2"].replace("num_replicas: 2", "num_replicas: 1")
            ),
            "2 replicas",
        ),
    ],
)
def test_lab01_wrong_answers_get_their_hint(mutate, hint):
    path = solved_lab01()
    edit(path, mutate)
    result = checks.lab01(path)
    assert not result.passed and hint in result.hint, result.hint


def test_lab01_placeholder_values_left_in_a_comment():
    path = solved_lab01()
    path.write_text(path.read_text() + "# AWS_SECRET_ACCESS_KEY: replace-me\n")
    assert "placeholder" in checks.lab01(path).hint


def test_lab01_missing_file_says_how_to_create_it():
    result = checks.lab01(checks.answers_dir() / "nope.yaml")
    assert "run the lab's first cell" in result.hint


def test_lab02_unchanged_start_file_asks_for_a_third_app():
    checks.start("lab02")
    result = checks.lab02(backend=None)  # never reaches the cluster
    assert not result.passed and "2 application(s)" in result.hint and "route_prefix" in result.hint


def test_lab02_third_app_on_a_used_prefix_is_a_lint_hint():
    path = checks.start("lab02")
    text = path.read_text().replace(
        "  # The Ray cluster",
        "      - {name: hola, route_prefix: /hello, import_path: hello_app:app,\n"
        "         deployments: [{name: Hello, ray_actor_options: {num_cpus: 0.2}}]}\n  # The Ray cluster",
    )
    path.write_text(text)
    result = checks.lab02(backend=None)
    assert result.hint.startswith("[duplicate-route]") and "'/hello'" in result.hint


def test_lab02_start_is_the_multi_manifest_without_predict_b():
    from helpers.manifests import load_manifest

    start = load_manifest(checks.two_app_manifest_text())
    multi = load_manifest("manifests/ray-service-multi.yaml")
    assert start.routes == {"/hello": "hello", "/predict-a": "predict-a"}
    assert start.cluster_config == multi.cluster_config


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, None, True), "NUM_REPLICAS = 0"),
        ((2, 0, True), "MAX_REPLICAS_PER_NODE = 0"),
        ((2, 1, "yes"), "CLIENT_RETRIES"),
    ],
)
def test_lab03_answer_types_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        checks.lab03_answer(*args)


def test_lab03_impossible_placement_is_caught_before_anything_is_deployed():
    checks.lab03_answer(3, 1, True)
    result = checks.lab03(backend=None)
    assert not result.passed and "need 3 nodes; the cluster has 2" in result.hint


@pytest.mark.parametrize(
    "replicas, nodes, retries, words",
    [
        (1, 1, True, "with one replica"),
        (2, 1, True, "MAX_REPLICAS_PER_NODE = 1"),
        (2, 2, False, "CLIENT_RETRIES = True"),
    ],
)
def test_chaos_hints_name_the_missing_choice(replicas, nodes, retries, words):
    assert words in checks.chaos_hint(replicas, nodes, retries, "worker node lost")


@pytest.mark.parametrize(
    "change, hint",
    [
        (lambda t: t, "the same as the running version"),
        (lambda t: t.replace("replicas: 1\n", "replicas: 2\n", 1), "you changed rayClusterConfig"),
        (lambda t: t.replace("route_prefix: /hello", "route_prefix: /hi"), "keep the route"),
        (lambda t: t.replace("serveConfigV2: |", "serveConfigV2:"), "[serve-config-string]"),
    ],
)
def test_lab04_wrong_answers_before_any_traffic(change, hint):
    path = checks.start("lab04")
    path.write_text(change(path.read_text()))
    result = checks.lab04(backend=None)
    assert not result.passed and hint in result.hint, result.hint


def test_grade_unknown_lab():
    with pytest.raises(ValueError, match="choose one of lab01"):
        checks.grade("lab9")


@pytest.mark.parametrize("lab", ["lab01", "lab02", "lab04"])
def test_solutions_can_run_twice(lab):
    """A learner re-runs cells: the answer cell of a solution must give the same file the second time."""
    path = checks.start(lab)
    solution = (checks.LABS_DIR / "solutions" / f"{lab}.py").read_text()
    exec(solution, {"path": path})
    once = path.read_text()
    exec(solution, {"path": path})
    assert path.read_text() == once
    from helpers.manifests import load_manifest

    load_manifest(path)  # still valid


def test_lab03_hand_edited_answer_file_is_checked_before_anything_runs():
    checks.answer_file("lab03").write_text('{"num_replicas": "two", "retries": true}')
    result = checks.lab03(backend=None)
    assert not result.passed and "NUM_REPLICAS = 'two'" in result.hint
