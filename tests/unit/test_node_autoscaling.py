"""Lesson 07's Step 1b: the manifest whose worker pods follow the replicas, and the watch of those pods."""

from __future__ import annotations

import nbformat
import pytest
import yaml

from helpers import autoscaling, config, manifests, node_autoscaling
from helpers.node_autoscaling import LESSON, WorkerWatch, nodes_follow


@pytest.fixture
def scaled():
    base = manifests.load_manifest(config.MANIFESTS_DIR / "ray-service.yaml")
    return autoscaling.autoscaled(base, autoscaling.LESSON["autoscaling"], autoscaling.LESSON["work_ms"])


def test_nodes_follow_turns_the_autoscaler_on_and_moves_the_replicas_off_the_head(scaled):
    nodes = nodes_follow(scaled, **LESSON)
    cluster = nodes.cluster_config
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["autoscalerOptions"]["idleTimeoutSeconds"] == 30
    assert cluster["autoscalerOptions"]["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    group = cluster["workerGroupSpecs"][0]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 2)
    (hello,) = [d for a in nodes.applications for d in a["deployments"] if d["name"] == "Hello"]
    assert hello["ray_actor_options"]["num_cpus"] == 0.5
    assert hello["autoscaling_config"] == autoscaling.LESSON["autoscaling"]  # Step 1's edit kept
    assert nodes.warnings == []  # the linter's autoscaler rules find nothing to say


def test_the_saved_manifest_loads_back_as_the_same_rayservice(scaled, tmp_path):
    nodes = nodes_follow(scaled, **LESSON)
    nodes.save(tmp_path / "ray-service.yaml")
    again = manifests.load_manifest(tmp_path / "ray-service.yaml")
    assert again.raw == yaml.safe_load(yaml.safe_dump(nodes.raw)) and again.serve_config == nodes.serve_config


@pytest.mark.parametrize(
    ("change", "words"),
    [({"replica_cpus": 0}, "more than 0 and at most 1 CPU"), ({"min_workers": 3}, "0 <= min <= max")],
)
def test_a_bad_value_is_refused_with_what_to_write(scaled, change, words):
    with pytest.raises(ValueError, match=words):
        nodes_follow(scaled, **{**LESSON, **change})


class _Run:
    def __init__(self, start: float, load_end_s: float):
        self.traffic = type("T", (), {"start_time": start})()
        self.load_end_s = load_end_s


def watched(samples, started=100.0) -> WorkerWatch:
    watch = WorkerWatch(type("B", (), {"name": "host"})(), min_workers=1, idle_timeout_s=30)
    watch.timeline.start = started
    watch.timeline.samples = samples
    return watch


def test_the_watch_reports_the_pods_on_the_ramps_clock_and_when_the_idle_one_went():
    # The watch began 10 s before the ramp (run_ramp first waits for min_replicas); the load ended at 135 s.
    samples = [(5.0, 1, 1), (98.0, 1, 2), (113.0, 2, 2), (150.0, 2, 2), (214.0, 2, 1), (215.0, 1, 1)]
    watch = watched(samples)
    watch.finish(ramp_start=110.0, load_end_s=135.0)
    assert watch.changes() == [(-5.0, 1, 1), (88.0, 1, 2), (103.0, 2, 2), (204.0, 2, 1), (205.0, 1, 1)]
    assert watch.peak() == 2 and watch.back_s == 70.0
    assert watch.verdict() == "a worker pod added for the replicas: True\nback to 1 worker pod(s) after the load: True"
    assert "worker pods: 1 -> peak 2; back to 1 70.0 s after the load" in watch.report()


def test_a_watch_that_never_saw_a_second_pod_or_the_way_back_says_so():
    watch = watched([(5.0, 1, 1), (200.0, 1, 2)])
    watch.finish(ramp_start=100.0, load_end_s=135.0)
    assert watch.back_s is None
    assert watch.verdict().splitlines() == [
        "a worker pod added for the replicas: False",
        "back to 1 worker pod(s) after the load: False",
    ]
    assert "not back to 1 within the wait" in watch.report()


def test_on_the_local_backend_there_is_nothing_to_watch_and_it_says_so():
    watch = WorkerWatch(type("B", (), {"name": "local"})(), min_workers=1, idle_timeout_s=30)
    with watch:
        pass
    assert watch.wait_back(run=None) == "(local backend: no worker pods)"
    assert watch.verdict() == "(local backend: no worker pods)"


def test_the_lessons_nodes_parameter_is_what_the_module_declares():
    nb = nbformat.read(config.NOTEBOOKS_DIR / "07_autoscaling.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params: dict = {}
    exec(cell.source, params)
    assert params["NODES"] == node_autoscaling.LESSON


def test_worker_counts_reads_the_ready_worker_pods_and_the_rayclusters_desired_workers():
    """What the watch samples every second on Kubernetes (a sample that raises is only counted as missed)."""

    def pod(ready: str) -> dict:
        return {"metadata": {"name": "w"}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}

    class Kube:
        def get_raycluster(self, namespace, name):
            assert (namespace, name) == ("rayservice-tutorial", "ray-serve-app-abcde")
            return {"status": {"desiredWorkerReplicas": 2}}

    class Backend:
        name, namespace, kube = "host", "rayservice-tutorial", Kube()

        def ray_pods(self, node_type):
            assert node_type == "worker"
            return [pod("True"), pod("False")]  # the second one is starting

        def cluster_names(self):
            return "ray-serve-app-abcde", None

    assert node_autoscaling.worker_counts(Backend()) == (1, 2)


def test_a_watch_whose_every_read_failed_says_so_instead_of_a_peak_of_zero():
    watch = watched([])
    watch.timeline.misses = 120
    watch.finish(ramp_start=100.0, load_end_s=135.0)
    assert watch.report() == "no sample of the worker pods: 120 reads failed"
