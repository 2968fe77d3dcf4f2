"""What every backend offers, and the errors it raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from helpers.config import Ports
from helpers.errors import ShownAsMessage
from helpers.kubectl import Command, Kubectl
from helpers.manifests import RayServiceManifest


class BackendError(ShownAsMessage, RuntimeError):
    """Something about the cluster is wrong; the message says what and what to do."""


class NotRunningError(BackendError):
    """The cluster (or the RayService) the call needs is not there."""


class KindOnly(BackendError):
    """A step only a real Kubernetes cluster can show; the local backend says so instead of faking it."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(
            f'{what} needs a real Kubernetes cluster: run this lesson with BACKEND = "kind" to see it. '
            "The local backend does not pretend."
        )


class DeployFailedError(BackendError):
    def __init__(self, app: str, message: str):
        self.app = app
        self.serve_message = message
        last = message.strip().splitlines()[-1] if message.strip() else "(no message)"
        super().__init__(
            f"Application {app!r} is DEPLOY_FAILED: {last}\n"
            "Serve keeps the previous version (if any) running. Fix the manifest and apply it again.\n"
            f"Full message from Serve:\n{message.strip()}"
        )


# What each fault returns on every backend (a backend may add more): the pod it hit (on the local backend the
# node that plays it), and what the waits after it need. tests/integration/test_backends_alike.py runs each.
FAULT_RESULTS = {
    "kill_replica": {"pod", "pid", "replica", "node"},  # node: the Ray node id, shortened
    "lose_worker": {"pod", "node", "replicas"},  # replicas: ids it held (None: Serve's API could not say)
    "kill_proxy": {"pod", "node_id", "proxy_actor"},  # the node and actor of the proxy killed
    "delete_head_pod": {"pod", "head_back_s", "gcs_fault_tolerance", "replicas"},
}


class Backend(Protocol):
    """Every operation the lessons, labs, scenarios and graders call: every backend implements all of it
    with the same parameters (tests/unit/test_backend_contract.py). Where the local backend cannot do
    what Kubernetes does, it says so (``KindOnly``) instead of faking it."""

    name: str
    # True where traffic goes through a Service that can point at other pods over time: the traffic then opens
    # a new connection per request, so a switch is measured when it happens (a kept-alive one stays put).
    service_moves: bool
    kubectl: Kubectl  # the kubectl commands the lessons show, for this backend's namespace
    ports: Ports  # the 127.0.0.1 ports of Serve, the dashboard and the metrics (forwards on Kubernetes)

    # -- lifecycle -----------------------------------------------------------------------------
    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = ...) -> dict[str, Any]: ...
    def describe(self) -> dict[str, Any]: ...
    def down(self, quiet: bool = False) -> int: ...
    def leftovers(self) -> list[str]: ...
    def our_processes(self) -> list: ...
    def listeners(self) -> list[tuple[str, int, int]]: ...
    def listening_addresses(self) -> list[str]: ...

    # -- apply and status ------------------------------------------------------------------------
    def apply(self, manifest: RayServiceManifest | str | Path) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def wait_ready(self, timeout: float = ...) -> float: ...
    def delete_service(self, timeout: float = ...) -> None: ...

    # -- observation -------------------------------------------------------------------------------
    def urls(self) -> dict[str, str]: ...
    @property
    def serve_url(self) -> str: ...
    def token(self) -> str | None: ...
    def metrics_urls(self) -> list[str]: ...
    def nodes_table(self) -> str: ...
    def running_replicas(self, app: str) -> list[dict[str, Any]]: ...
    def proxies(self) -> dict[str, dict[str, Any]]: ...
    def on_kubernetes(self, command: Command, check: bool = False) -> str | None: ...

    # -- faults and updates ------------------------------------------------------------------------
    def kill_replica(self, app: str) -> dict[str, Any]: ...
    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> dict[str, Any]: ...
    def kill_proxy(self) -> dict[str, Any]: ...
    def delete_head_pod(self) -> Any: ...
    def replace_cluster(self, manifest: RayServiceManifest | str | Path, timeout: float = 300) -> None: ...
    def upgrade_cluster(self, manifest: RayServiceManifest | str | Path, revision: str) -> Any: ...
    def cluster_names(self) -> tuple[str | None, str | None]: ...  # KubeRay's active and pending RayCluster

    # -- monitoring --------------------------------------------------------------------------------
    def install_monitoring(self) -> dict[str, str]: ...
