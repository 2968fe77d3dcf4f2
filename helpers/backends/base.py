"""What every backend offers: one abstract base class, holding what the backends share.

``LocalBackend`` (Ray on this machine, no Kubernetes) and ``KubernetesBackend`` (the KubeRay operator on a real
cluster; ``KindBackend`` and ``HostBackend`` add how their cluster is started) inherit it. A lesson, grader or
scenario written against ``Backend`` runs on every backend: each implements every operation with the same
parameters (tests/unit/test_backend_contract.py). Where the local backend cannot do what Kubernetes does, it says
so (``KindOnly``) instead of faking it.

Names that mean one thing on every backend: ``serve`` is Serve's REST API (``ServeAPI``, reached on the local
dashboard port: Ray's own on the local backend, a port-forward on Kubernetes), ``kubectl`` builds the kubectl
commands the lessons show, ``ports`` the 127.0.0.1 ports of Serve, the dashboard and the metrics.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import config, statefile
from helpers import status as status_mod
from helpers.backends.faults import HeadLost, ProxyKilled, ReplicaKilled, WorkerLost
from helpers.kubectl import Command, Kubectl
from helpers.serve_api import ServeAPI

if TYPE_CHECKING:
    from helpers.manifests import RayServiceManifest


class Backend(abc.ABC):
    name: str
    # True where traffic goes through a Service that can point at other pods over time: the traffic then opens
    # a new connection per request, so a switch is measured when it happens (a kept-alive one stays put).
    service_moves: bool
    kubectl: Kubectl  # the kubectl commands the lessons show, for this backend's namespace
    ports: config.Ports  # the 127.0.0.1 ports of Serve, the dashboard and the metrics (forwards on Kubernetes)
    state_file: Path  # what the backend keeps between calls (and between notebooks), set by each backend

    def __init__(self, kubectl: Kubectl, state_dir: Path | None = None, ports: config.Ports | None = None):
        self.kubectl = kubectl
        self.state_dir = Path(state_dir or config.state_dir())
        self.ports = ports or config.Ports()
        self.log_dir = self.state_dir / "logs"
        self.serve = ServeAPI(self.urls()["dashboard"], token=self.token)

    # -- shared: addresses, state, what Serve reports ------------------------------------------------------------

    def urls(self) -> dict[str, str]:
        """Serve, the dashboard and the metrics, on 127.0.0.1 (Kubernetes: the port-forwards' ends)."""
        host = config.LOOPBACK
        return {
            "serve": f"http://{host}:{self.ports.serve}",
            "dashboard": f"http://{host}:{self.ports.dashboard}",
            "metrics": f"http://{host}:{self.ports.metrics}",
        }

    @property
    def serve_url(self) -> str:
        self.reach_serve()
        return self.urls()["serve"]

    def _state(self) -> dict[str, Any]:
        return statefile.read(self.state_file) or {}

    def _save(self, state: dict[str, Any]) -> None:
        statefile.write(self.state_file, state)

    def serve_details(self) -> dict[str, Any]:
        """Serve's ``/api/serve/applications/`` (applications, deployments, replicas, proxies, controller)."""
        self.reach_serve()
        return self.serve.details()

    def running_replicas(self, app: str) -> list[dict[str, Any]]:
        """The RUNNING replicas of ``app``: replica id, pid, node id and IP, from Serve's API."""
        return status_mod.replicas(self.serve_details(), app)

    def listening_addresses(self) -> list[str]:
        """The distinct addresses of what the tutorial listens on here: only ['127.0.0.1'] if all is well."""
        return sorted({addr.removeprefix("::ffff:") for addr, _, _ in self.listeners()})

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Serve's HTTP proxies by node id: actor id and status (HEALTHY, UNHEALTHY, STARTING...)."""
        return self.serve_details().get("proxies") or {}

    # -- what each backend does its own way ----------------------------------------------------------------------

    @abc.abstractmethod
    def reach_serve(self) -> None:
        """Make Serve's API and proxy answer on 127.0.0.1 (Kubernetes: the port-forwards), or raise
        ``NotRunningError`` saying how to start what is missing."""

    @abc.abstractmethod
    def token(self) -> str | None:
        """Ray's authentication token of the running cluster (None when it runs without)."""

    # lifecycle
    @abc.abstractmethod
    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = ...) -> dict[str, Any]: ...
    @abc.abstractmethod
    def describe(self) -> dict[str, Any]: ...
    @abc.abstractmethod
    def down(self, quiet: bool = False) -> int: ...
    @abc.abstractmethod
    def leftovers(self) -> list[str]: ...
    @abc.abstractmethod
    def our_processes(self) -> list: ...
    @abc.abstractmethod
    def listeners(self) -> list[tuple[str, int, int]]: ...

    # apply and status
    @abc.abstractmethod
    def apply(self, manifest: RayServiceManifest | str | Path) -> None: ...
    @abc.abstractmethod
    def status(self) -> dict[str, Any]: ...
    @abc.abstractmethod
    def wait_ready(self, timeout: float = ...) -> float: ...
    @abc.abstractmethod
    def delete_service(self, timeout: float = ...) -> None: ...

    # observation
    @abc.abstractmethod
    def metrics_urls(self) -> list[str]: ...
    @abc.abstractmethod
    def nodes_table(self) -> str: ...
    @abc.abstractmethod
    def on_kubernetes(self, command: Command, check: bool = False) -> str | None: ...

    # faults and updates
    @abc.abstractmethod
    def kill_replica(self, app: str) -> ReplicaKilled: ...
    @abc.abstractmethod
    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> WorkerLost: ...
    @abc.abstractmethod
    def wait_for_another_proxy(self, timeout: float = ...) -> float:
        """Until a proxy other than the head's takes new connections (the precondition of killing the head's)."""

    @abc.abstractmethod
    def kill_proxy(self) -> ProxyKilled: ...
    @abc.abstractmethod
    def delete_head_pod(self) -> HeadLost: ...
    @abc.abstractmethod
    def replace_cluster(
        self, manifest: RayServiceManifest | str | Path, timeout: float = 300, wait_old: bool = True
    ) -> None: ...
    @abc.abstractmethod
    def upgrade_cluster(self, manifest: RayServiceManifest | str | Path, revision: str) -> Any: ...
    @abc.abstractmethod
    def cluster_names(self) -> tuple[str | None, str | None]:
        """KubeRay's active and pending RayCluster."""

    # monitoring
    @abc.abstractmethod
    def install_monitoring(self) -> dict[str, str]: ...
