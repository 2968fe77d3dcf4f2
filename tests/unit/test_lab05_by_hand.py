"""Lab 05's grader: each step passes the state the solution leaves, and fails each wrong state with its hint."""

from __future__ import annotations

import copy

import pytest

from helpers import config
from helpers import lab05_by_hand as lab
from helpers.lab_files import two_app_manifest_text

OLD, NEW = "uid-old", "uid-new"
HELLO = {"message": "Hello from RayService!"}


def seen(**changes):
    state = {
        "namespace": True,
        "rayservice": True,
        "generation": 1,
        "observed": 1,
        "apps": {"hello": "RUNNING", "predict-a": "RUNNING"},
        "routes": {"/hello": "hello", "/predict-a": "predict-a"},
        "greeting": "Hello",
        "cluster": "ray-serve-app-abcde",
        "configmap": True,
        "workers": [{"name": "w-1", "uid": OLD, "phase": "Running"}],
        "leftovers": [],
        "answers": {
            "/hello": {"bodies": [HELLO] * lab.REQUESTS_PER_ROUTE, "failures": 0},
            "/predict-a": {"bodies": [{"model": "a"}] * lab.REQUESTS_PER_ROUTE, "failures": 1},
        },
    }
    state.update(changes)
    return state


DEPLOYED = {"deploy": {"workers": [OLD], "cluster": "ray-serve-app-abcde", "greeting": "Hello"}}
LOST = {**DEPLOYED, "lose_worker": {"workers": [NEW], "cluster": "ray-serve-app-abcde"}}
UPDATED = {**LOST, "update": {"greeting": "Annyeong"}}
NEW_WORKER = [{"name": "w-2", "uid": NEW, "phase": "Running"}]
NEW_ANSWERS = {
    "/hello": {"bodies": [{"message": "Annyeong from RayService!"}] * 5, "failures": 0},
    "/predict-a": {"bodies": [{"model": "a"}] * 5, "failures": 0},
}


def test_deploy_passes_and_records_the_workers_the_cluster_and_the_greeting():
    hint, details, record = lab.judge("deploy", seen(), {})
    assert hint is None and record == DEPLOYED["deploy"]
    assert any("generation 1 observed" in d for d in details)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"namespace": False}, "does not exist"),
        ({"configmap": False}, "No ConfigMap rayservice-tutorial-apps"),
        ({"rayservice": False}, "No RayService ray-serve-app"),
        ({"generation": 2}, "not acted on generation 2"),
        ({"routes": {"/hello": "hello"}}, "1 application(s)"),
        ({"apps": {"hello": "RUNNING", "predict-a": "DEPLOYING"}}, "predict-a is DEPLOYING"),
        ({"answers": {"/hello": {"bodies": [HELLO], "failures": 9}}}, "/hello did not answer 5 times"),
        ({"workers": [{"name": "w-1", "uid": OLD, "phase": "Pending"}]}, "No worker pod is running"),
    ],
)
def test_deploy_fails_each_wrong_state(changes, words):
    hint, _details, record = lab.judge("deploy", seen(**changes), {})
    assert hint and words in hint and record == {}


def test_the_steps_after_deploy_need_its_record():
    for step in lab.STEPS[1:]:
        hint, _details, _record = lab.judge(step, seen(), {})
        assert "deploy step first" in hint


def test_lose_worker_passes_with_a_new_uid_in_the_same_cluster():
    hint, details, record = lab.judge("lose_worker", seen(workers=NEW_WORKER), DEPLOYED)
    assert hint is None and record == LOST["lose_worker"]
    assert any("w-2" in d for d in details)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({}, "w-1 is the one recorded at deploy"),  # not deleted: the same UID
        ({"workers": [{"name": "w-2", "uid": NEW, "phase": "Pending"}]}, "No worker pod is running yet"),
        ({"workers": NEW_WORKER, "cluster": "ray-serve-app-zzzzz"}, "KubeRay built a new cluster"),
        ({"workers": NEW_WORKER, "answers": {"/hello": {"bodies": [], "failures": 90}}}, "did not answer"),
    ],
)
def test_lose_worker_fails_each_wrong_state(changes, words):
    hint, _details, _record = lab.judge("lose_worker", seen(**changes), DEPLOYED)
    assert hint and words in hint


def test_update_passes_with_the_new_greeting_served_in_place():
    state = seen(workers=NEW_WORKER, greeting="Annyeong", generation=2, observed=2, answers=NEW_ANSWERS)
    hint, details, record = lab.judge("update", state, LOST)
    assert hint is None and record == {"greeting": "Annyeong"}
    assert any("Annyeong from RayService!" in d for d in details)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"greeting": "Hello"}, "still 'Hello'"),  # not changed
        ({"observed": 1}, "not acted on generation 2"),  # applied, not yet observed
        ({"answers": {**NEW_ANSWERS, "/hello": {"bodies": [HELLO] * 5, "failures": 0}}}, "not the new greeting"),
        ({"cluster": "ray-serve-app-zzzzz"}, "KubeRay built a new cluster"),
        ({"workers": [{"name": "w-3", "uid": "uid-3", "phase": "Running"}]}, "worker pods changed"),
    ],
)
def test_update_fails_each_wrong_state(changes, words):
    state = seen(workers=NEW_WORKER, greeting="Annyeong", generation=2, observed=2, answers=NEW_ANSWERS)
    state.update(changes)
    hint, _details, _record = lab.judge("update", state, LOST)
    assert hint and words in hint


def test_cleanup_passes_when_the_namespace_is_gone_or_empty():
    assert lab.judge("cleanup", {"namespace": False, "leftovers": []}, UPDATED)[0] is None
    assert lab.judge("cleanup", {"namespace": True, "leftovers": []}, UPDATED)[0] is None


def test_cleanup_fails_with_leftovers_or_steps_not_done():
    hint = lab.judge("cleanup", {"namespace": True, "leftovers": ["ConfigMap/rayservice-tutorial-apps"]}, UPDATED)[0]
    assert "ConfigMap/rayservice-tutorial-apps" in hint
    hint = lab.judge("cleanup", {"namespace": False, "leftovers": []}, DEPLOYED)[0]
    assert "lose_worker, update" in hint


def test_a_runbook_that_calls_python_make_or_the_helpers_is_refused():
    text = "deploy() {\n  kubectl apply -f x.yaml  # not python\n  python -m helpers up\n  make run\n}\n"
    assert lab.refused_lines(text) == [(3, "python"), (4, "make")]
    assert lab.refused_lines("kubectl exec pod -- serve status\n") == [(1, "serve")]
    assert lab.refused_lines("kubectl get rayservice/ray-serve-app  # python-free\n") == []


def test_the_solution_and_the_skeleton_reach_the_cluster_with_kubectl_and_curl_only():
    for path in (config.PROJECT_ROOT / "labs" / "solutions" / "lab05.sh", lab.START_SCRIPT):
        assert lab.refused_lines(path.read_text()) == [], path


def test_the_solution_sets_up_what_the_manifest_mounts():
    text = (config.PROJECT_ROOT / "labs" / "solutions" / "lab05.sh").read_text()
    assert f"create configmap {lab.APP_CODE_CONFIGMAP} --from-file=manifests/apps/" in text
    assert lab.APP_CODE_CONFIGMAP in two_app_manifest_text()


def test_an_unknown_step_gets_a_clear_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    result = lab.lab05(None, "deploy_all")
    assert not result.passed and "write one of deploy, lose_worker, update, cleanup" in result.hint


def test_on_local_each_step_says_what_it_would_check_and_passes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))

    class Local:
        name = "local"

    for step in lab.STEPS:
        result = lab.lab05(Local(), step)
        assert result.skipped and not result.passed
        assert "needs Kubernetes" in str(result) and result.require() is result


def test_a_step_passed_is_not_the_lab_passed(tmp_path, monkeypatch):
    from helpers.lab_results import saved_results, succeed

    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    succeed("lab05", [], step="deploy", final=False)
    assert saved_results()["lab05"]["passed"] is False
    assert "step deploy: passed" in str(succeed("lab05", [], step="deploy", final=False))
    succeed("lab05", [], step="cleanup", final=True)
    assert saved_results()["lab05"]["passed"] is True


def test_judge_does_not_change_what_it_is_given():
    state, record = seen(), copy.deepcopy(DEPLOYED)
    lab.judge("lose_worker", state, record)
    assert state == seen() and record == DEPLOYED


def test_the_solution_is_the_skeleton_with_only_the_steps_filled_in():
    """The two scripts share their given part (settings, serve_port, the dispatch): a learner's runbook must stand
    alone, so each file carries it; this keeps the copies the same."""
    import re

    def given(path):
        text = path.read_text().split("\n", 2)[2]  # after the shebang, a line names the file's role
        return re.sub(r"\n(deploy|lose_worker|update|cleanup)\(\) \{\n.*?\n\}\n", r"\n\1() {}\n", text, flags=re.S)

    assert given(config.PROJECT_ROOT / "labs" / "solutions" / "lab05.sh") == given(lab.START_SCRIPT)
