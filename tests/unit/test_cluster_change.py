"""The local backend judges a changed rayClusterConfig as KubeRay does (tests/host/test_kuberay_behaviour.py showed
it on the real operator): replica counts alone leave the cluster as it is, groups added at the end are an in-place
update the local backend cannot make, anything else is a new cluster."""

from __future__ import annotations

import copy

import pytest

from helpers import config
from helpers.backends import cluster_change
from helpers.errors import BackendError
from helpers.manifests import load_manifest, validate

BASE = load_manifest(config.MANIFESTS_DIR / "ray-service.yaml")


def running_state(groups=None) -> dict:
    state = {
        "auth": BASE.auth_mode,
        "redis": None,
        "head": {"num_cpus": BASE.head_num_cpus},
        "workers": [{"group": g.name, "num_cpus": g.num_cpus} for g in BASE.worker_groups for _ in range(g.replicas)],
    }
    if groups is not None:
        state["groups"] = groups
    return state


def changed(mutate):
    raw = copy.deepcopy(BASE.raw)
    mutate(raw["spec"]["rayClusterConfig"]["workerGroupSpecs"])
    return validate(raw)


@pytest.mark.parametrize("groups", [None, [["workers", 1.0]]], ids=["older state", "state with its groups"])
def test_a_replicas_only_change_keeps_the_cluster_and_says_why(groups, capsys):
    cluster_change.check(running_state(groups), changed(lambda w: w[0].update(replicas=2, maxReplicas=2)))
    said = capsys.readouterr().out
    assert "Only worker replica counts differ from the running cluster (1 -> 2 worker nodes)" in said
    assert "keeps its 1 worker nodes" in said


def test_the_same_cluster_says_nothing(capsys):
    cluster_change.check(running_state([["workers", 1.0]]), BASE)
    assert capsys.readouterr().out == ""


def test_a_group_added_at_the_end_is_kuberays_in_place_update_the_local_backend_cannot_make():
    def add(w):
        w.append(dict(copy.deepcopy(w[0]), groupName="extra"))

    with pytest.raises(BackendError) as info:
        cluster_change.check(running_state([["workers", 1.0]]), changed(add))
    text = str(info.value)
    assert "worker groups added at the end of rayClusterConfig (extra)" in text
    assert "KubeRay adds them to the running RayCluster in place" in text and "Nothing was changed" in text


@pytest.mark.parametrize(
    "mutate",
    [lambda w: w[0].update(groupName="others"), lambda w: w.insert(0, dict(copy.deepcopy(w[0]), groupName="first"))],
    ids=["group renamed", "group added before"],
)
def test_any_other_group_change_is_a_new_cluster_and_is_refused(mutate):
    with pytest.raises(BackendError) as info:
        cluster_change.check(running_state([["workers", 1.0]]), changed(mutate))
    assert "KubeRay would build a new cluster" in str(info.value) and "Nothing was changed" in str(info.value)


def test_a_head_change_is_a_new_cluster_even_with_the_same_groups():
    raw = copy.deepcopy(BASE.raw)
    raw["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = "2"
    with pytest.raises(BackendError, match="head CPUs .* -> 2"):
        cluster_change.check(running_state([["workers", 1.0]]), validate(raw))
