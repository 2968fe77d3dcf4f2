"""Lessons 04 and 05 on kind, measured as the lessons measure them: the scenarios of helpers/scenarios.py with
real traffic (helpers.traffic, new connection per request) through the forward that follows the Service, on a
kind cluster played here (tests/kube_world.py) whose clock runs twenty times faster than real time. The
traffic's answers name the RayCluster and the pod that served them, so these tests see what kind would:
after a head pod is replaced or a new RayCluster is promoted, the requests reach the new pods, and the
measurement says so. (`kubectl port-forward svc/...` would have stayed on the old pods: kubernetes/kubectl#686.)
"""

from __future__ import annotations

import pytest

from helpers import scenarios
from helpers.manifests import load_manifest

from ..kube_world import KubeWorld

HELLO = load_manifest("manifests/ray-service.yaml")
SPEED = 20.0  # the timeline's seconds per real second: KubeRay's 30 s build takes 1.5 s here
TRAFFIC = {"rate": 20, "before": 1.0, "after": 2.0}  # seconds of traffic before the fault and after healing


@pytest.fixture
def world(tmp_path, monkeypatch):
    with KubeWorld(tmp_path, monkeypatch, speed=SPEED) as played:
        played.backend.up(HELLO)
        played.backend.apply(HELLO)
        played.backend.wait_ready(timeout=120)
        yield played


def answered_by(outcome, after_s: float) -> set[str]:
    """The pods that answered requests sent from ``after_s`` s of the traffic on."""
    return {r.replica for r in outcome.traffic.records if r.ok and r.t >= after_s}


def test_lesson_05_cluster_upgrade_measures_the_switch_to_the_new_raycluster(world):
    backend = world.backend
    old, _ = backend.cluster_names()
    outcome = scenarios.cluster_upgrade(backend, HELLO, revision="2", timeout=120, **TRAFFIC)
    new, pending = backend.cluster_names()
    assert outcome.error is None and new != old and pending is None
    versions = outcome.summary["versions"]
    assert set(versions) == {old, new}, versions  # both clusters answered, each for a while
    healthy_at = outcome.start_s + outcome.recovery_s
    assert {world.timeline.cluster_of(pod) for pod in answered_by(outcome, healthy_at + 0.5)} == {new}
    switch = outcome.traffic.overlap(old, new)
    assert switch["first_new_s"] is not None and switch["first_new_s"] >= outcome.start_s
    assert outcome.failed <= outcome.in_flight_during()  # with retries: a true bound, not a timed zero
    assert old in world.timeline.clusters  # the old RayCluster lives 60 s more: nothing needed it


def test_lesson_04_head_pod_loss_measures_the_new_head(world):
    backend = world.backend
    outcome = scenarios.head_pod_loss(backend, timeout=120, **TRAFFIC)
    lost = outcome.detail
    assert lost["gcs_fault_tolerance"] is False and lost["head"] != lost["pod"]
    healthy_at = outcome.start_s + outcome.recovery_s
    after = answered_by(outcome, healthy_at + 0.5)
    assert lost["head"] in after and lost["pod"] not in after  # the new head pod serves, the deleted one is gone
    for measured in (outcome, outcome.companion):
        assert measured.failed <= measured.in_flight_during()
    # Without GCS fault tolerance the new head starts a new Serve instance: no replica outlived the head.
    assert outcome.kept_replicas == []


def test_lesson_04_a_lost_worker_pod_is_replaced_and_its_successor_serves(world):
    backend = world.backend
    outcome = scenarios.node_loss(backend, retries=True, timeout=120, **TRAFFIC)
    lost = outcome.detail
    healthy_at = outcome.start_s + outcome.recovery_s
    after = answered_by(outcome, healthy_at + 0.5)
    assert lost["pod"] not in after
    workers = [p["metadata"]["name"] for p in backend.ray_pods("worker")]
    assert len(workers) == 1 and workers[0] != lost["pod"] and workers[0] in after
    assert outcome.failed <= outcome.in_flight_during()
