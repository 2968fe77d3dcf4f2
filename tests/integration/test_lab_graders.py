"""Lab graders against a real cluster: wrong answers are rejected with the hint that fits them."""

from __future__ import annotations

import pytest

from helpers import checks

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))


def third_app(path):
    exec((checks.LABS_DIR / "solutions" / "lab02.py").read_text(), {"path": path})


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


def test_lab03_one_replica_without_retries_fails_with_the_first_hint(serving):
    checks.lab03_answer(1, None, False)
    result = checks.lab03(serving)
    assert not result.passed, result
    assert "with one replica" in result.hint
    assert any("replica killed:" in d and " 0 failed" not in d for d in result.details), result.details


def test_lab04_a_failing_update_is_rejected_and_the_old_version_serves(serving):
    path = checks.start("lab04")
    path.write_text(path.read_text().replace("import_path: hello_app:app", "import_path: hello_app:no_such_app"))
    result = checks.lab04(serving)
    assert not result.passed and "failed to deploy, and Serve kept the old one serving (0 failed" in result.hint
    assert "no_such_app" in result.hint


def test_lab04_a_change_no_client_can_see(serving):
    path = checks.start("lab04")
    path.write_text(path.read_text().replace("num_replicas: 2", "num_replicas: 3"))
    result = checks.lab04(serving)
    assert not result.passed and "no client saw a different answer" in result.hint
