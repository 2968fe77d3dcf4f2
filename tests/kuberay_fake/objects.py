"""The fake's objects (tests/kuberay_fake/timeline.py): its clock, RayClusters, pods and RayServices, and what
it reads from a RayService's spec."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

HEAD_PORTS = {"dashboard": 8265, "gcs-server": 6379, "client": 10001, "metrics": 8080, "serve": 8000}
SERVE_PORTS = {"serve": 8000}
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet (no vowels)


class FakeClock:
    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Cluster:
    name: str
    service: str
    config: dict[str, Any]
    apps: list[str]
    created: float
    ready_at: float | None  # when its apps are RUNNING (None: waiting for a new head pod)
    delete_at: float | None = None
    uid: str = ""
    ft: bool = False  # GCS fault tolerance with Redis: the finalizer ray.io/gcs-ft-redis-cleanup-finalizer
    deleting_since: float | None = None  # deletionTimestamp (a finalizer holds it)
    cleanup_started: float | None = None  # the Redis cleanup Job was created
    deployed_at: float = 0.0  # an in-place serveConfigV2 change: its applications DEPLOYING until then
    head_seen_at: float | None = None  # a new head pod runs: KubeRay reads Serve again (no apps yet, then some)
    unhealthy_until: float = 0.0  # a worker lost: its replicas' apps UNHEALTHY until Serve has placed them again
    promoted_at: float | None = None  # promoted: its applications not shown yet for one reconcile


@dataclass
class Pod:
    name: str
    cluster: str
    node_type: str
    group: str
    ip: str
    ready_at: float | None
    deleted_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    running_at: float = 0.0  # Pending (its containers starting) until then
    restarts: int = 0  # its containers' restarts (a worker's raylet exits when a new GCS does not know it)
    replace: bool = False  # deleted on its own (not with its RayCluster): KubeRay makes a new one
    old_serve: bool = False  # a worker whose proxy still serves from the Serve of a lost head (no GCS FT)


@dataclass
class Service:
    name: str
    generation: int
    spec: dict[str, Any]
    active: str | None = None
    pending: str | None = None
    observed: int = 0
    serve_svc: bool = False  # <name>-serve-svc exists once the apps of a cluster were ready
    deleting_since: float | None = None  # deletionTimestamp: ray.io/rayservice-finalizer waits for the RayClusters
    frozen: dict[str, Any] | None = None  # its status as KubeRay last saw it, while the active cluster has no head


def app_names(spec: dict[str, Any]) -> list[str]:
    import yaml

    config = yaml.safe_load(spec.get("serveConfigV2") or "") or {}
    return sorted(app["name"] for app in config.get("applications") or [])


def deployment_names(spec: dict[str, Any]) -> dict[str, list[str]]:
    import yaml

    config = yaml.safe_load(spec.get("serveConfigV2") or "") or {}
    return {app["name"]: [d["name"] for d in app.get("deployments") or []] for app in config.get("applications") or []}


def without_replicas(config: dict[str, Any] | None) -> dict[str, Any]:
    """rayClusterConfig without what KubeRay changes in place (replica counts)."""
    config = copy.deepcopy(config or {})
    for group in config.get("workerGroupSpecs") or []:
        for key in ("replicas", "minReplicas", "maxReplicas"):
            group.pop(key, None)
    return config
