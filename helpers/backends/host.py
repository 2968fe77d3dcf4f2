"""The host backend: a real single-node Kubernetes on this Linux machine, driven by ``KubernetesBackend``.

This class adds only how that cluster is started, stopped and reached (``helpers/host/``: built with
``make host-build``, started by ``up``, removed by ``down``); everything about the RayService is the shared
Kubernetes code, talking to a real API server, kubelet and KubeRay operator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.backends.commands import Commands
from helpers.backends.kube import DEFAULT_NAMESPACE, KubernetesBackend
from helpers.errors import BackendError
from helpers.manifests import RayServiceManifest, as_manifest


def host_env() -> dict[str, str]:
    """KUBECONFIG and PATH for this cluster: the admin kubeconfig and the kubectl built with it."""
    from helpers.host import addons

    env = addons.env()
    return {"KUBECONFIG": env["KUBECONFIG"], "PATH": env["PATH"]}


def host_forwards() -> list[int]:
    """Every forward process to this cluster (`python -m helpers.backends.forward --context rayservice-host`)."""
    import psutil

    from helpers.host.pki import CLUSTER

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "helpers.backends.forward" in cmd and "--context" in cmd and CLUSTER in cmd:
            found.append(proc.pid)
    return found


class HostBackend(KubernetesBackend):
    name = "host"
    pod_network = True  # this machine is the node: the pods' bridge and kube-proxy's rules are here

    def __init__(self, namespace: str = DEFAULT_NAMESPACE, commands: Commands | None = None, **kwargs):
        from helpers.host.pki import CLUSTER

        # Every kubectl the backend runs or shows, its forwards and its API client reach this cluster: the built
        # kubectl (within one minor of the API server) and the admin kubeconfig, as `make host-env` gives a terminal.
        super().__init__(namespace=namespace, context=CLUSTER, commands=commands or Commands(host_env()), **kwargs)

    def listeners(self) -> list[tuple[str, int, int]]:
        """The forwards' listeners and the cluster's own (API server, etcd, kubelet...): on 127.0.0.1, or on the
        bridge's address, which only this machine and its pods reach."""
        from helpers import procs
        from helpers.host import cluster

        return super().listeners() + procs.listeners(set(cluster.started_pids().values()))

    def _routes_to(self, service: str, address: str) -> bool:
        """kube-proxy's nftables rules on this machine, which the forwards go through (a cluster IP)."""
        from helpers.host import network

        return address in network.service_routes(self.namespace, service)

    def _routes_somewhere(self, service: str) -> bool:
        from helpers.host import network

        return bool(network.service_routes(self.namespace, service))

    @property
    def kube(self):
        if self._kube is None:
            from helpers.backends.kubeapi import KubeAPI

            self._kube = KubeAPI(self.context, kubeconfig=host_env()["KUBECONFIG"])
        return self._kube

    def preflight(self, manifest: RayServiceManifest | None = None) -> list:
        from helpers.host.preflight import host_checks

        return host_checks()

    def running(self) -> bool:
        """The whole cluster runs: every component's process, and the API server answers."""
        from helpers.host import cluster, components

        names = {p.name for p in components.control_plane() + components.node()}
        if not names <= set(cluster.started_pids()):
            return False
        return cluster.probe(components.kube_apiserver().health)[0]

    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = 900) -> dict[str, Any]:
        """Start the cluster (or reuse the running one), then prepare the namespace as on any Kubernetes."""
        from helpers import preflight
        from helpers.host import cluster

        as_manifest(manifest)  # a bad manifest fails before anything changes
        if not self.running():
            checks = self.preflight()
            failed = [c for c in checks if not c.ok]
            if failed:
                raise BackendError("The host backend cannot start on this machine:\n" + preflight.report(failed))
            took = cluster.start_all()
            print(f"Kubernetes is up on this machine in {sum(took.values()):.0f} s (`make host-env` for a terminal).")
        else:
            print("Reusing the running host cluster.")
        return self._prepare_namespace()

    def leftovers(self) -> list[str]:
        from helpers.host import cluster

        found = [f"process {p.pid} ({p.name()})" for p in self.our_processes()]
        found += [
            f"forward process {pid}" for pid in host_forwards() if pid not in {p.pid for p in self.our_processes()}
        ]
        return found + cluster.leftovers()

    def down(self, quiet: bool = False) -> int:
        """Stop the forwards, then the whole cluster: processes, pods, mounts, links, tables, sysctls."""
        from helpers.host import cluster

        stopped = self.stop_port_forwards()
        strays = host_forwards()  # forwards to this cluster from other namespaces or state folders (a crashed run)
        if strays:
            from helpers import procs

            procs.stop_groups(strays, grace=1)
            stopped += len(strays)
        self.state_file.unlink(missing_ok=True)
        done = cluster.stop(quiet=True)
        if not quiet:
            print(f"Stopped the host cluster ({len(done)} step(s))." if done else "No host cluster to stop.")
        return stopped
