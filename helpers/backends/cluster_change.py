"""What an applied manifest's ``rayClusterConfig`` asks of the running local cluster, judged as KubeRay judges it.

KubeRay compares a hash of ``rayClusterConfig`` that leaves out every worker group's ``replicas``
(rayservice_controller.go, ``isClusterSpecHashEqual``), and on the host cluster (tests/host/test_kuberay_behaviour.py):

- only replica counts changed: nothing happens to the running RayCluster; the new counts take effect when KubeRay
  next rebuilds it or updates it in place. The local backend does the same (keeps its nodes, applies the rest);
- worker groups added at the end, the rest the same: KubeRay updates the running RayCluster in place (adds the
  groups, with the stored counts). The local backend cannot add nodes to a running cluster: it refuses;
- anything else (head, a group's CPUs, groups removed or reordered, auth, GCS fault tolerance): KubeRay builds a new
  RayCluster and switches to it. The local backend cannot: it refuses, changing nothing.
"""

from __future__ import annotations

from typing import Any

from helpers.errors import BackendError
from helpers.i18n import _
from helpers.manifests import RayServiceManifest


def started_groups(state: dict[str, Any]) -> list[list[Any]]:
    """[name, CPUs] of each worker group the cluster was started from (a state without them: the running ones)."""
    if state.get("groups") is not None:
        return state["groups"]
    groups: list[list[Any]] = []
    for worker in state["workers"]:
        if [worker["group"], worker["num_cpus"]] not in groups:
            groups.append([worker["group"], worker["num_cpus"]])
    return groups


def check(state: dict[str, Any], manifest: RayServiceManifest) -> None:
    """Return when the local cluster can take ``manifest`` as KubeRay would (saying so when KubeRay would leave
    the replica counts for later); raise BackendError, changing nothing, when it cannot."""
    running = [w["num_cpus"] for w in state["workers"]]
    wanted = [g.num_cpus for g in manifest.worker_groups for _n in range(g.replicas)]
    started = started_groups(state)
    groups = [[g.name, g.num_cpus] for g in manifest.worker_groups]
    auth = state.get("auth", "disabled")
    ft, wanted_ft = bool(state.get("redis")), manifest.gcs_fault_tolerance is not None
    head_same = state["head"]["num_cpus"] == manifest.head_num_cpus and auth == manifest.auth_mode and ft == wanted_ft
    if head_same and groups == started:
        if running != wanted:
            print(
                _(
                    "Only worker replica counts differ from the running cluster ({running} -> {wanted} worker "
                    "nodes). KubeRay leaves a running RayCluster as it is for that: it compares rayClusterConfig "
                    "without replica counts, and the new counts take effect only when it next rebuilds the cluster "
                    "or updates it in place (a worker group added at the end). This cluster keeps its "
                    "{running} worker nodes too.",
                    running=len(running),
                    wanted=len(wanted),
                )
            )
        return
    if head_same and len(groups) > len(started) and groups[: len(started)] == started:
        raise BackendError(
            _(
                "{source}: worker groups added at the end of rayClusterConfig ({names}). On Kubernetes, KubeRay adds "
                "them to the running RayCluster in place; the local backend cannot add nodes to a running cluster. "
                "Nothing was changed. To use this cluster shape here, run `make down` (or backend.down()) and start "
                "again with backend.up(manifest).",
                source=manifest.source,
                names=", ".join(name for name, _cpus in groups[len(started) :]),
            )
        )
    raise BackendError(
        f"{manifest.source}: rayClusterConfig differs from the running cluster "
        f"(worker nodes {len(running)} -> {len(wanted)}, head CPUs "
        f"{state['head']['num_cpus']:g} -> {manifest.head_num_cpus:g}, auth {auth} -> "
        f"{manifest.auth_mode}, GCS fault tolerance {on_off(ft)} -> {on_off(wanted_ft)}). "
        "On Kubernetes, KubeRay would build a new cluster and switch traffic to it with zero downtime; the local "
        "backend cannot do that. Nothing was changed. To use this cluster shape here, run `make down` "
        "(or backend.down()) and start again with backend.up(manifest)."
    )


def on_off(on: bool) -> str:
    return "on" if on else "off"
