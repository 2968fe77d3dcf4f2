"""Lab graders against a real cluster: wrong answers are rejected with the hint that fits them.

Labs 03 and 04 must not be passable by repeating the lesson before them: lesson 04's answer to a chaos
round is refused before anything runs, and lab 04's measurement (let through past its decision check) catches
a failing update and a shipped item that replaces the serving replicas. The solutions pass in
tests/notebooks/test_labs.py.
"""

from __future__ import annotations

import shutil

import pytest

from helpers import checks

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))


def third_app(path):
    """The learner's lab02 file, solved: labs/solutions/lab02.yaml."""
    shutil.copyfile(checks.LABS_DIR / "solutions" / "lab02.yaml", path)


def test_lab02_not_applied_then_applied(serving):
    path = checks.start("lab02")
    third_app(path)
    result = checks.lab02(serving)
    assert not result.passed and "hola is not RUNNING" in result.hint and "backend.apply" in result.hint
    serving.apply(path)
    serving.wait_ready(timeout=120)
    result = checks.lab02(serving)
    assert result.passed, result
    assert "/hola -> hola: 10/10 answered" in str(result)


def test_route_proof_catches_an_answer_from_the_wrong_app(serving):
    """The proof is real: a route whose answers come from another app's replicas is reported."""
    from helpers.manifests import load_manifest

    path = checks.start("lab02")
    third_app(path)
    manifest = load_manifest(path)
    swapped = {"/hello": "hola", "/hola": "hello", "/predict-a": "predict-a"}
    manifest.serve_config["applications"] = [  # same apps, but claim each route belongs to the other app
        {**a, "route_prefix": next(r for r, n in swapped.items() if n == a["name"])} for a in manifest.applications
    ]
    proof = checks.route_proof(serving, manifest, n=3)
    assert proof["/hello"]["foreign"] == 3 and proof["/hola"]["foreign"] == 3
    assert proof["/predict-a"]["foreign"] == 0


def test_lab02_a_third_app_another_file_put_there_does_not_count(serving):
    """Lesson 03's manifest (predict-b, model b) applied; the learner's file has a predict-b with model c that was
    never applied. Every app is RUNNING and every route answers: Serve's own config of predict-b says otherwise.
    The lab's first step applies the two starting apps, which removes predict-b."""
    path = checks.start("lab02")
    block = (
        "      - name: predict-b\n        route_prefix: /predict-b\n        import_path: predict_app:build\n"
        "        args: {model: c}\n        deployments:\n"
        "          - {name: Predictor, num_replicas: 1, ray_actor_options: {num_cpus: 0.2}}\n"
    )
    path.write_text(path.read_text().replace("  # The Ray cluster", block + "  # The Ray cluster"))
    serving.apply("manifests/ray-service-multi.yaml")
    serving.wait_ready(timeout=120)
    result = checks.lab02(serving, path)
    assert not result.passed and "Serve runs predict-b with a config other than your file's (args differ)" in (
        result.hint
    )
    serving.apply(checks.lab02_start())
    serving.wait_ready(timeout=120)
    result = checks.lab02(serving, path)
    assert not result.passed and "predict-b is not RUNNING" in result.hint


def test_lab03_lesson_04s_answer_is_not_enough(serving):
    """Lesson 04's answer (2 replicas, one per node, client retries) leaves 1 replica serving during each fault:
    under lab 03's budget of 2. The check says so by calculation, before it deploys anything: the replicas the
    cluster runs are the ones it ran before."""
    before = {r["replica_id"] for r in serving.running_replicas("hello")}
    path = checks.start("lab03")
    path.write_text("num_replicas: 2\nmax_replicas_per_node: 1\nclient_retries: true\n")
    result = checks.lab03(serving)
    assert not result.passed, result
    assert "with 2 replica(s), 1 serve while Serve replaces a killed one; the budget is 2" in result.hint
    assert {r["replica_id"] for r in serving.running_replicas("hello")} == before


def test_lab03_a_lucky_spread_or_a_lucky_run_is_not_enough(serving):
    """4 replicas with no cap may be spread 2 + 2 by Serve, and a round without retries may see no request in
    flight when a replica dies: both pass a lucky round, so both are refused before any round runs."""
    path = checks.start("lab03")
    path.write_text("num_replicas: 4\nmax_replicas_per_node: null\nclient_retries: true\n")
    assert "Serve may put 4 of your 4 replicas on the worker node" in checks.lab03(serving).hint
    path.write_text("num_replicas: 4\nmax_replicas_per_node: 2\nclient_retries: false\n")
    assert "set client_retries: true" in checks.lab03(serving).hint


SOLVED_LAB04 = checks.LABS_DIR / "solutions" / "lab04.yaml"


def shipped(path, extra=lambda text: text):
    """The learner's lab04 file: the solution (ticket items A and B), changed by ``extra``."""
    path.write_text(extra(SOLVED_LAB04.read_text()))


def with_item_c(text: str) -> str:
    """Ticket item C (max_replicas_per_node: 2) shipped too, next to the solution's A and B."""
    return text.replace("max_ongoing_requests: 10", "max_ongoing_requests: 10\n            max_replicas_per_node: 2")


@pytest.fixture
def decision_not_checked(monkeypatch):
    """Wrong decisions are refused before any traffic (tests/unit/test_checks.py); these tests let one through
    to prove, on a real cluster, what the grader's measurement catches and that the decision table is Serve's."""
    monkeypatch.setattr(checks, "decision_hint", lambda baseline, manifest: "")


def test_lab04_a_failing_update_is_rejected_and_the_old_version_serves(serving, decision_not_checked):
    path = checks.start("lab04")
    shipped(path, lambda t: t.replace("import_path: hello_app:app", "import_path: hello_app:no_such_app"))
    result = checks.lab04(serving)
    assert not result.passed and "failed to deploy, and Serve kept the old one serving (0 failed" in result.hint
    assert "no_such_app" in result.hint


def test_lab04_shipping_item_c_replaces_the_serving_replicas(serving, decision_not_checked):
    """Ticket item C (max_replicas_per_node) shipped with A and B: Serve replaces the 2 serving replicas, as
    helpers/lab04_ticket.py's RESTART says (the decision check refuses it without running anything)."""
    path = checks.start("lab04")
    shipped(path, with_item_c)
    result = checks.lab04(serving)
    assert not result.passed, result
    assert "of the 2 replicas that were serving were stopped and replaced" in result.hint
    assert "besides num_replicas you changed deployment max_ongoing_requests, deployment max_replicas_per_node" in (
        result.hint
    )


def test_lab04_wrong_decision_runs_nothing(serving):
    """Everything in the ticket shipped: refused with the reason before the starting version is deployed."""
    before = {r["replica_id"] for r in serving.running_replicas("hello")}
    path = checks.start("lab04")
    shipped(path, with_item_c)
    result = checks.lab04(serving)
    assert not result.passed and "you ship ticket item C (max_replicas_per_node) now" in result.hint
    assert {r["replica_id"] for r in serving.running_replicas("hello")} == before


def test_lab07_a_fault_left_in_the_fix_is_named_then_the_fixed_file_passes(serving):
    """Lab 07 with the three causes named right: a fixed file that still has predict-a's import fault is applied
    and refused, naming predict-a and what its signs point to; lesson 03's manifest (the solution's fix) passes."""
    from helpers import lab07_debugging

    path = checks.lab07_start()
    copy = path.with_name(lab07_debugging.MANIFEST_FILE)
    text = path.read_text()
    for app, cause in lab07_debugging.FAULTS.items():
        text = text.replace(f"  {app}:\n", f"  {app}: {cause}\n")
    path.write_text(text)
    copy.write_text(copy.read_text().replace("route_prefix: /helo", "route_prefix: /hello").replace("num_gpus: 1", ""))
    result = checks.lab07(serving, path)
    assert not result.passed and result.hint.startswith("predict-a is still broken: Serve cannot import"), result
    shutil.copyfile(checks.LABS_DIR / "solutions" / "lab07.yaml", path)
    result = checks.lab07(serving, path)
    assert result.passed, result
    serving.apply(checks.BASELINE)  # hello alone again, for the tests after this one
    serving.wait_ready(timeout=120)
