"""What each fault of lesson 04 returns, on every backend: the pod it hit (on the local backend the node that plays
it) and what the waits after it need. tests/integration/test_backends_alike.py makes each fault on both backends."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class Fault:
    pod: str  # the pod the fault hit (the local backend: the node that plays it, named as its pod would be)
    # The moment (time.monotonic()) from which the fault reached no new request, when that is later than the
    # fault's call returning: a dead proxy's pod stays in the serve Service until KubeRay relabels it.
    contained_at: float | None = field(default=None, repr=False)


@dataclass(kw_only=True)
class ReplicaKilled(Fault):
    pid: int  # the replica's process, killed with SIGKILL
    replica: str  # Serve's replica id
    node: str  # the Ray node id, shortened


@dataclass(kw_only=True)
class WorkerLost(Fault):
    node: str  # the worker node (pod) lost
    replicas: list[str] | None  # the replica ids it held (None: Serve's API could not say)
    replaced_in_s: float | None = None  # the local backend: seconds until its new worker node joined


@dataclass(kw_only=True)
class ProxyKilled(Fault):
    node_id: str | None  # the Ray node whose proxy was killed
    proxy_actor: str | None  # the killed proxy's actor id: a new one has another
    pid: int | None = None  # the local backend: the proxy's process


@dataclass(kw_only=True)
class HeadLost(Fault):
    head_back_s: float  # seconds from the fault until a new head answered (Kubernetes: its pod Ready)
    gcs_fault_tolerance: bool
    replicas: list[str] | None  # the replica ids on the head
    head: str | None = None  # Kubernetes: the new head pod's name
    workers: str | None = None  # the local backend: "reconnected" (GCS FT) or "restarted"
    redeployed: bool = False  # the local backend: Serve's config PUT again on the new head (as KubeRay does)


# The fault operations of the backend contract and the result each returns.
FAULTS: dict[str, type[Fault]] = {
    "kill_replica": ReplicaKilled,
    "lose_worker": WorkerLost,
    "kill_proxy": ProxyKilled,
    "delete_head_pod": HeadLost,
}
