"""The host cluster's recorded kubectl output, shown under the local backend's "On Kubernetes" steps."""

from __future__ import annotations

import json

import pytest

from helpers import config, transcripts
from helpers.backends.local import LocalBackend


@pytest.fixture
def recorded_data(tmp_path, monkeypatch):
    """A recording of two lessons, built as `make transcripts` builds it, into a temporary data file."""
    monkeypatch.setattr(transcripts, "DATA", tmp_path / "transcripts.json")
    monkeypatch.setattr(transcripts, "_played", transcripts.Counter())
    recording = tmp_path / "recording.jsonl"
    monkeypatch.setenv(transcripts.RECORD_ENV, str(recording))
    get_pods = ("kubectl", "--context", "rayservice-host", "get", "pods", "-n", "rayservice-tutorial")
    for lesson, output in (("04a_self_healing", "before the fault"), ("04a_self_healing", "after the fault")):
        monkeypatch.setenv(transcripts.LESSON_ENV, lesson)
        transcripts.record(get_pods, output)
    monkeypatch.setenv(transcripts.LESSON_ENV, "02_deploy_rayservice")
    transcripts.record(
        ("kubectl", "get", "rayservice/ray-serve-app", "-n", "rayservice-tutorial"), "NAME  READY\nray-serve-app  True"
    )
    monkeypatch.delenv(transcripts.RECORD_ENV)
    return transcripts.build(recording, {"kubernetes": "v1.34.4", "kuberay": "v1.6.1", "ray": config.RAY_VERSION})


def test_a_command_is_recorded_as_a_learner_types_it_on_any_cluster(recorded_data):
    assert transcripts.normalized(["kubectl", "--context", "c", "get", "pods"]) == "kubectl get pods"
    (lesson_04,) = [recorded_data["lessons"]["04a_self_healing"]]
    assert [e["command"] for e in lesson_04] == ["kubectl get pods -n rayservice-tutorial"] * 2
    assert recorded_data["manifests"] == transcripts.manifest_hashes()


def test_the_nth_run_of_a_command_in_a_lesson_shows_its_nth_recorded_output(recorded_data, monkeypatch):
    monkeypatch.setenv(transcripts.LESSON_ENV, "04a_self_healing")
    args = ("kubectl", "get", "pods", "-n", "rayservice-tutorial")
    assert [transcripts.recorded(args) for _ in range(3)] == ["before the fault", "after the fault", "after the fault"]
    # A lesson that did not run it (or none named): the first lesson that did.
    monkeypatch.setenv(transcripts.LESSON_ENV, "09_cleanup")
    assert transcripts.recorded(args) == "before the fault"
    assert transcripts.recorded(("kubectl", "get", "nothing")) is None


def test_the_local_backend_shows_the_recorded_output_under_the_command(recorded_data, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RAYSERVICE_HEADLESS", "1")
    monkeypatch.setenv(transcripts.LESSON_ENV, "02_deploy_rayservice")
    backend = LocalBackend(state_dir=tmp_path)
    backend.on_kubernetes(backend.kubectl.get_rayservice("ray-serve-app"))
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("$ kubectl get rayservice")
    assert shown[1].startswith("(local backend, no Kubernetes here:")
    assert shown[2] == (
        "What it printed on the host backend's Kubernetes (recorded "
        f"{recorded_data['recorded']}: Kubernetes v1.34.4, KubeRay v1.6.1, Ray {config.RAY_VERSION}):"
    )
    assert shown[3:] == ["  NAME  READY", "  ray-serve-app  True"]


def test_a_changed_manifest_makes_the_recording_stale(recorded_data):
    changed = dict(recorded_data, manifests={**recorded_data["manifests"], "manifests/ray-service.yaml": "0" * 64})
    assert transcripts.stale_manifests(changed) == ["manifests/ray-service.yaml"]


def test_the_committed_recording_matches_todays_manifests():
    """Re-record with `make transcripts` (the lessons on the host backend) after changing a manifest."""
    data = transcripts.load()
    assert data is not None, f"{transcripts.DATA} is missing: run `make transcripts`"
    assert transcripts.stale_manifests(data) == [], "manifests changed since the recording: run `make transcripts`"
    lessons = {"01_cluster", "02_deploy_rayservice", "04a_self_healing", "04b_head_failure", "05_rolling_updates"}
    assert set(data["lessons"]) >= lessons
    assert data["versions"]["ray"] == config.RAY_VERSION
    assert data["versions"]["kubernetes"] == config.HOST_VERSIONS["kubernetes"]
    json.dumps(data)  # plain data


def test_kubectl_diffs_temporary_folders_are_shown_without_this_machines_temp_dir():
    raw = "diff -u -N /tmp/LIVE-2250408061/ray.io.v1.RayService.ns.x /tmp/MERGED-3877356520/ray.io.v1.RayService.ns.x"
    assert transcripts.shown(raw) == "diff -u -N LIVE/ray.io.v1.RayService.ns.x MERGED/ray.io.v1.RayService.ns.x"
    assert transcripts.shown("/tmp/ray/session_latest/logs") == "/tmp/ray/session_latest/logs"  # inside the pod


def test_a_comment_changes_no_recording_but_a_value_does(tmp_path):
    """Recorded outputs come from what the cluster got: a YAML file's documents, not its comments or layout."""
    original = (config.MANIFESTS_DIR / "ray-service.yaml").read_text()
    commented = tmp_path / "commented.yaml"
    commented.write_text("# a new comment\n" + original.replace("kind: RayService", "kind:   RayService  # same"))
    valued = tmp_path / "valued.yaml"
    valued.write_text(original.replace("num_replicas: 2", "num_replicas: 3"))
    same = transcripts.content_hash(config.MANIFESTS_DIR / "ray-service.yaml")
    assert transcripts.content_hash(commented) == same
    assert transcripts.content_hash(valued) != same


def test_re_recording_one_lesson_keeps_the_others_and_refuses_other_versions(recorded_data, tmp_path, monkeypatch):
    """`python -m helpers transcripts --only 07`: the lessons recorded now replace theirs, the rest stay."""
    recording = tmp_path / "again.jsonl"
    monkeypatch.setenv(transcripts.RECORD_ENV, str(recording))
    monkeypatch.setenv(transcripts.LESSON_ENV, "04a_self_healing")
    transcripts.record(("kubectl", "get", "pods", "-n", "rayservice-tutorial"), "recorded again")
    merged = transcripts.build(recording, recorded_data["versions"], keep=recorded_data)
    assert merged["lessons"]["02_deploy_rayservice"] == recorded_data["lessons"]["02_deploy_rayservice"]
    assert [e["output"] for e in merged["lessons"]["04a_self_healing"]] == ["recorded again"]
    with pytest.raises(ValueError, match="record every lesson"):
        transcripts.build(recording, {**recorded_data["versions"], "kuberay": "v1.7.0"}, keep=recorded_data)
