"""The local backend: a real Ray cluster of local processes on 127.0.0.1.

It plays the part of the KubeRay operator: one head node, one worker node per worker-group
replica of the manifest, and ``apply`` PUTs ``serveConfigV2`` to the dashboard exactly as the
operator does. State lives in a JSON file, so the cluster outlives a notebook kernel: notebook 02
finds the cluster notebook 01 started, and a second ``up()`` reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from helpers import config, procs, transcripts
from helpers import status as status_mod
from helpers.backends import cluster_change
from helpers.backends.base import Backend
from helpers.backends.cluster_change import on_off
from helpers.backends.faults import HeadLost, ProxyKilled, ReplicaKilled, WorkerLost
from helpers.backends.local_processes import LocalProcesses, proxies_of, refuse_while_host_runs
from helpers.errors import BackendError, DeployFailedError, KindOnly, NotRunningError
from helpers.kubectl import Command, Kubectl, show_local
from helpers.manifests import RayServiceManifest, as_manifest, lint_before_apply
from helpers.progress import wait_for
from helpers.serve_api import ServeAPIError

PROXY_WAIT_S = 60.0  # Serve restarts a dead proxy after 3 failed health checks, 10 s apart
HEAD_START_TIMEOUT = 180.0  # a lost head's new start, and its workers' (re)joining
STATE_FILE = "local-cluster.json"  # in the state folder while a local cluster is up: what `down` stops


class LocalBackend(Backend):
    name = "local"
    service_moves = False  # Serve's proxy listens on 127.0.0.1 itself: nothing in between to repoint

    def __init__(
        self, state_dir: Path | None = None, ports: config.Ports | None = None, namespace: str = "rayservice-tutorial"
    ):
        # No Kubernetes here: the namespace only names the kubectl commands the lessons show.
        super().__init__(Kubectl(namespace), state_dir, ports)
        digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:8]
        self.marker = f"local-{digest}"
        # Ray puts Unix sockets under its temp dir: keep the path short (108-byte limit).
        self.temp_dir = Path("/tmp") / f"rst-{digest}"
        self.state_file = self.state_dir / STATE_FILE
        self.processes = LocalProcesses(
            self.marker, self.state_dir, self.ports, self.temp_dir, self.state_file, self.serve
        )
        self.token_file = self.processes.token_file
        self.redis_files = self.processes.redis_files

    def on_kubernetes(self, command: Command, check: bool = False) -> None:
        """Show ``command`` (from ``self.kubectl``) and what this backend does in its place; run nothing."""
        print(show_local(command))
        transcripts.show(command.args)  # what it printed on a real cluster, recorded

    def is_up(self) -> bool:
        state = self._state()
        pgid = (state or {}).get("head", {}).get("pgid")
        return bool(pgid) and procs.group_alive(pgid) and self.serve.reachable()

    def token(self) -> str | None:
        return self.processes.token()

    def our_processes(self) -> list:
        """Every live process of this cluster: its process groups plus anything carrying its marker."""
        return self.processes.our_processes()

    def listeners(self) -> list[tuple[str, int, int]]:
        """(address, port, pid) of every TCP socket the cluster listens on."""
        return self.processes.listeners()

    def reach_serve(self) -> None:
        self._require_up()

    def _require_up(self) -> dict[str, Any]:
        state = self._state()
        if not state or not self.is_up():
            raise NotRunningError(
                "No local Ray cluster is running. Start it with notebook 01_cluster, or in Python: "
                "`backend.up('manifests/ray-service.yaml')`."
            )
        return state

    # -- up --------------------------------------------------------------------------------

    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = 180) -> dict[str, Any]:
        """Start the cluster the manifest's ``rayClusterConfig`` describes, or reuse the running one."""
        manifest = as_manifest(manifest)
        workers = [g for g in manifest.worker_groups for _ in range(g.replicas)]
        ft = manifest.gcs_fault_tolerance is not None
        state = self._state()
        if state and self.is_up():
            running_ft = bool(state.get("redis"))
            if running_ft != ft:
                raise BackendError(
                    f"The running local cluster has GCS fault tolerance {on_off(running_ft)}; {manifest.source} "
                    f"asks for it {on_off(ft)}. Where the GCS keeps its tables (memory or Redis) is chosen when "
                    "the head starts, so this cluster cannot switch. Nothing was changed. Stop it with "
                    "backend.down() (or `make down`), then call backend.up(...) again. (On Kubernetes, applying "
                    "a manifest with other gcsFaultToleranceOptions makes KubeRay build a new RayCluster.)"
                )
            print(
                f"Reusing the local Ray cluster started at {state['started']} "
                f"(head + {len(state['workers'])} worker node(s)"
                + (", GCS fault tolerance with Redis)." if running_ft else ").")
            )
            return self.describe()
        refuse_while_host_runs()
        if state or procs.find_marked(self.marker):
            print("Cleaning up what is left of an earlier cluster that is no longer running.")
            self.down(quiet=True)
        self.processes.check_ports(len(workers), redis=ft)

        try:
            self.processes.start(manifest, workers, timeout)
        except BaseException:
            # Never leave half a cluster behind: a failed or interrupted start stops what it started.
            self.down(quiet=True)
            raise
        return self.describe()

    # -- describe ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """What is running: nodes (with PIDs), ports and URLs, and the pod each node plays.

        On Kubernetes KubeRay names the RayCluster of RayService <name> `<name>-xxxxx`, its head pod
        `<cluster>-head-xxxxx` and its worker pods `<cluster>-<group>-worker-xxxxx`. The local backend's
        cluster plays the RayCluster `<name>-local`: the head node plays `<name>-local-head`, worker node
        `<group>-<i>` plays `<name>-local-<group>-worker-<i>` (`<name>` until a RayService is applied).
        """
        state = self._require_up()
        service = (state.get("service") or {}).get("name")
        cluster = f"{service or '<name>'}-local"
        pods = {"head": f"{cluster}-head"}
        pods.update({w["name"]: f"{cluster}-{w['group']}-worker-{w['index'] + 1}" for w in state["workers"]})
        return {
            "backend": self.name,
            "head": state["head"],
            "workers": state["workers"],
            "urls": self.urls(),
            "service": service,
            "raycluster": cluster,
            "pods": pods,
            "gcs_fault_tolerance": (state.get("redis") or {}).get("address"),  # Redis's address, or None
        }

    def nodes_table(self) -> str:
        """One row per node: name, group, CPUs, and the pod it plays (KubeRay's node type and name)."""
        from helpers.display import table

        info = self.describe()
        pods = info["pods"]
        rows = [("head", "head", f"{info['head']['num_cpus']:g}", "head pod", pods["head"])]
        rows += [
            (w["name"], w["group"], f"{w['num_cpus']:g}", f"worker pod (group {w['group']})", pods[w["name"]])
            for w in info["workers"]
        ]
        return table(("node", "group", "CPUs", "plays", "pod-like name"), rows)

    # -- apply / status / wait ---------------------------------------------------------------

    def serve_config_for(self, manifest: RayServiceManifest) -> dict[str, Any]:
        """The JSON the operator would PUT, with Serve's HTTP proxy pinned to 127.0.0.1."""
        serve_config = json.loads(json.dumps(manifest.serve_config))
        http = serve_config.get("http_options") or {}
        if http.get("host") not in (None, config.LOOPBACK):
            print(f"Note: http_options.host {http['host']!r} replaced by 127.0.0.1 (loopback only).")
        serve_config["http_options"] = {**http, "host": config.LOOPBACK, "port": self.ports.serve}
        return serve_config

    def apply(self, manifest: RayServiceManifest | str | Path) -> None:
        """Deploy the manifest's serveConfigV2 to the running cluster, as the operator would."""
        manifest = lint_before_apply(manifest)
        state = self._require_up()
        cluster_change.check(state, manifest)
        serve_config = self.serve_config_for(manifest)
        try:
            self.serve.put_config(serve_config)
        except ServeAPIError as exc:
            raise BackendError(f"The Ray dashboard rejected {manifest.source}; nothing changed.\n{exc}") from None
        previous = state.get("service") or {}
        state["service"] = {
            "name": manifest.name,
            "source": manifest.source,
            "applied": time.time(),
            "apps": {app["name"]: app for app in serve_config["applications"]},
            "config": serve_config,  # PUT again if the head is lost without GCS fault tolerance
            "activated": previous.get("activated", False) and previous.get("name") == manifest.name,
        }
        self._save(state)
        print(
            f"Applied {manifest.source}: RayService {manifest.name!r} with applications "
            f"{', '.join(sorted(state['service']['apps']))}."
        )

    def status(self) -> dict[str, Any]:
        """The RayService status, in the shape KubeRay writes into the custom resource."""
        state = self._require_up()
        service = state.get("service")
        if not service:
            raise NotRunningError(
                "The cluster is up, but no RayService has been applied yet: run notebook "
                "02_deploy_rayservice, or backend.apply('manifests/ray-service.yaml')."
            )
        return self._status_from(self.serve.details(), state)

    def _status_from(self, details: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        service = state["service"]
        if not service["activated"] and self._all_running(details, service):
            service["activated"] = True  # KubeRay promotes the cluster to active at this point
            self._save(state)
        name = service["name"]
        return status_mod.rayservice_status(details, name, f"{name}-local", service["activated"])

    @staticmethod
    def _all_running(details: dict[str, Any], service: dict[str, Any]) -> bool:
        apps = details.get("applications") or {}
        return all(
            name in apps and apps[name].get("status") == "RUNNING" and apps[name].get("deployed_app_config") == wanted
            for name, wanted in service["apps"].items()
        )

    def wait_ready(self, timeout: float = 120) -> float:
        """Wait until every applied application is RUNNING and the service is Ready.

        Stops early with DeployFailedError (and Serve's message) if an application fails.
        Returns the seconds waited.
        """
        state = self._require_up()
        service = state.get("service")
        if not service:
            raise NotRunningError("Nothing to wait for: no RayService has been applied yet.")
        last: dict[str, Any] = {}

        def ready() -> tuple[bool, str]:
            try:
                details = self.serve.details()
            except ServeAPIError as exc:
                if not exc.transient:
                    raise
                return False, f"Serve's API not answering yet ({exc})"  # e.g. a new head, its controller recovering
            apps = details.get("applications") or {}
            for name in service["apps"]:
                app = apps.get(name) or {}
                if app.get("status") == "DEPLOY_FAILED" and app.get("deployed_app_config") == service["apps"][name]:
                    raise DeployFailedError(name, app.get("message", ""))
            current = self._status_from(details, state)
            last["status"] = current
            done = self._all_running(details, service) and status_mod.is_ready(current)
            # Every proxy healthy too: here they share one port, see status.proxies_not_ready.
            starting = status_mod.proxies_not_ready(details)
            if done and starting:
                return False, f"{status_mod.summary(current)}; Serve proxy not ready yet on node {', '.join(starting)}"
            return done, status_mod.summary(current)

        def diagnose() -> str:
            return status_mod.timeout_report(last.get("status")) + "\n" + self.nodes_table()

        return wait_for(f"RayService {service['name']} to be Ready", ready, timeout, on_timeout=diagnose)

    def metrics_urls(self) -> list[str]:
        """Every node's Prometheus endpoint (head and workers)."""
        state = self._require_up()
        ports = [self.ports.metrics] + [self.ports.metrics + 1 + w["index"] for w in state["workers"]]
        return [f"http://{config.LOOPBACK}:{port}/metrics" for port in ports]

    def leftovers(self) -> list[str]:
        """What of the tutorial is still here: processes, listening ports, the temp dir."""
        found = [f"process {p.pid} ({p.name()})" for p in self.our_processes()]
        state = self._state() or {}
        for what, port in self.ports.named(len(state.get("workers", [])) or 1, redis=bool(state.get("redis"))).items():
            holder = procs.port_holder(port)
            if holder:
                found.append(f"port {port} ({what}) held by {holder}")
        if self.temp_dir.exists():
            found.append(f"Ray temp dir {self.temp_dir}")
        return found

    def delete_service(self, timeout: float = 300) -> None:
        """Delete every Serve application (what deleting the RayService does to its apps)."""
        state = self._require_up()
        self.serve.delete_all()
        state["service"] = None
        self._save(state)

    # -- faults (lesson 04) ----------------------------------------------------------------------

    def kill_replica(self, app: str) -> ReplicaKilled:
        """SIGKILL one replica process of ``app`` (a crash); Serve's controller starts a replacement."""
        replicas = self.running_replicas(app)
        ours = {p.pid for p in self.our_processes()}
        victims = [r for r in replicas if r.get("pid") in ours]
        if not victims:
            raise BackendError(f"Application {app!r} has no running replica to kill.")
        victim = victims[0]
        # What a learner types on Kubernetes (the node that holds the replica plays its pod).
        pod = self._node_name_of(victim["pid"])
        self.on_kubernetes(self.kubectl.exec(pod, "kill", "-9", str(victim["pid"])))
        os.kill(victim["pid"], signal.SIGKILL)
        return ReplicaKilled(pod=pod, replica=victim["replica_id"], pid=victim["pid"], node=victim["node_id"][:8])

    def _pod_of(self, node: str) -> str:
        """The pod-like name of a node (``head`` or a worker's name), as the lessons' tables show it."""
        return (self.describe().get("pods") or {}).get(node, node)

    def _node_name_of(self, pid: int) -> str:
        """The pod-like name of the node (head, or a worker) whose process group holds ``pid``."""
        state = self._require_up()
        for worker in state["workers"]:
            if pid in {p.pid for p in procs.group_members([worker["pgid"]])}:
                return self._pod_of(worker["name"])
        return self._pod_of("head")

    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> WorkerLost:
        """Kill worker node ``index`` and every Ray process on it at once (a node or pod lost), then,
        as KubeRay recreates a deleted pod, start a new worker node in its place."""
        state = self._require_up()
        if not 0 <= index < len(state["workers"]):
            raise BackendError(f"There is no worker node {index}: the cluster has {len(state['workers'])}.")
        worker = state["workers"][index]
        members = procs.group_members([worker["pgid"]])
        pids = {p.pid for p in members}
        lost = [r["replica_id"] for r in status_mod.replicas(self.serve.details(), state=None) if r.get("pid") in pids]
        pod = self._pod_of(worker["name"])
        self.on_kubernetes(self.kubectl.delete_pod(pod))
        for proc in members:
            try:
                proc.kill()
            except procs.psutil.Error:
                pass
        time.sleep(restart_after)
        started = time.monotonic()
        state["workers"][index] = self.processes.start_worker(index, worker["group"], worker["num_cpus"], timeout)
        self._save(state)
        return WorkerLost(
            pod=pod, node=worker["name"], replicas=lost, replaced_in_s=round(time.monotonic() - started, 1)
        )

    def wait_for_another_proxy(self, timeout: float = PROXY_WAIT_S) -> float:
        """Until a worker node's HTTP proxy listens on the shared serve port (right after a lost worker, its new
        proxy may still be starting; Serve runs one only on a node with a replica), so that new connections have a
        live proxy to go to when the head's dies. Returns the seconds waited."""
        state = self._require_up()

        def another_listens() -> tuple[bool, str]:
            others = {p.pid for p in proxies_of([w["pgid"] for w in state["workers"]])}
            listening = [port for _ip, port, _pid in procs.listeners(others) if port == self.ports.serve]
            return bool(listening), "a worker node's proxy listens" if listening else "no worker node's proxy yet"

        try:
            return wait_for("another node's HTTP proxy on the shared port", another_listens, timeout, interval=0.5)
        except TimeoutError:
            raise BackendError(
                f"No worker node's HTTP proxy listens on port {self.ports.serve} (waited {timeout:.0f} s): Serve "
                "runs one only on a node with a replica, and killing the head's proxy would leave the port with no "
                "one. Spread the replicas (`max_replicas_per_node: 1`, lesson 04a's Step 1), then try again."
            ) from None

    def kill_proxy(self) -> ProxyKilled:
        """SIGKILL the head node's HTTP proxy; the controller restarts it after failed health checks. The fault is
        contained when the dead proxy's socket is closed and a new connection on the shared port is accepted by a
        live proxy (``wait_for_another_proxy`` first makes sure there is one)."""
        state = self._require_up()

        def head_proxies() -> list:
            return proxies_of([state["head"]["pgid"]])

        proxies = head_proxies()

        def proxy_back() -> tuple[bool, str]:
            proxies[:] = head_proxies()
            return bool(proxies), "Serve is restarting it"

        head_node = (self.serve.details().get("controller_info") or {}).get("node_id")
        if not proxies:  # right after an earlier fault Serve may still be restarting the head's proxy
            try:
                wait_for("the head node's HTTP proxy", proxy_back, PROXY_WAIT_S, interval=1.0)
            except TimeoutError:
                said = (self.proxies().get(head_node) or {}).get("status", "not there")
                raise BackendError(
                    f"No HTTP proxy is running on the head node (waited {PROXY_WAIT_S:.0f} s); Serve's report "
                    f"of it: {said}. `python -m helpers status` shows the cluster."
                ) from None
        old = (self.proxies().get(head_node) or {}).get("actor_id")
        self.on_kubernetes(self.kubectl.exec(self._pod_of("head"), "pkill", "-9", "-f", "ray::ProxyActor"))
        proxies[0].kill()
        psutil.wait_procs(proxies[:1], timeout=10)
        procs.wait_port(self.ports.serve, config.LOOPBACK, timeout=PROXY_WAIT_S)
        contained = time.monotonic()
        return ProxyKilled(
            pod=self._pod_of("head"), pid=proxies[0].pid, node_id=head_node, proxy_actor=old, contained_at=contained
        )

    def replace_cluster(
        self, manifest: RayServiceManifest | str | Path, timeout: float = 300, wait_old: bool = True
    ) -> None:
        """A new cluster from ``manifest``, its applications applied: KubeRay's answer to a ``rayClusterConfig``
        change (such as adding ``gcsFaultToleranceOptions``) is a new RayCluster. A running GCS cannot change
        where it keeps its tables, so the local backend stops this cluster and starts the new one; the
        applications are down in between (on Kubernetes the old cluster serves until the new one is ready).
        Wait for the applications with ``wait_ready()``. ``wait_old``: Kubernetes only (nothing old is left here)."""
        manifest = lint_before_apply(as_manifest(manifest))  # a bad manifest stops nothing
        print(
            "(local backend, no Kubernetes here: it stops this cluster and starts one from the manifest, "
            "where KubeRay would build a new RayCluster next to the old one)"
        )
        self.down(quiet=True)
        self.up(manifest, timeout)
        self.apply(manifest)

    def delete_head_pod(self) -> HeadLost:
        """Lose the head node: SIGKILL its whole process group (GCS, dashboard, raylet, Serve's controller, the
        head's proxy and replicas) at once, as a deleted or crashed head pod. Then heal as KubeRay does: start
        a head again, on the same ports.

        With GCS fault tolerance the new head reads the cluster back from Redis: the worker nodes' raylets
        reconnect to it, Serve's controller restarts on it and recovers its applications, and the replicas on
        the workers served all along. Without it, the cluster's state died with the head: the worker nodes are
        restarted to join the new cluster, and Serve's config is PUT again, as the operator does when it finds
        no applications on a new head. Returns what happened, with ``head_back_s``: seconds from the kill
        until the new head's dashboard answered."""
        state = self._require_up()
        ft = bool(state.get("redis"))
        head = state["head"]
        self.on_kubernetes(self.kubectl.delete_pod(self._pod_of("head")))
        lost = [
            r["replica_id"]
            for r in self._replicas_on({p.pid for p in procs.group_members([head["pgid"]])})
            if r.get("replica_id")
        ]
        killed = time.monotonic()
        gone = self.processes.kill_head(head)  # its sockets closed with its processes: no new request reaches them
        state["head"] = self.processes.restart_head(head, state, HEAD_START_TIMEOUT)
        self._save(state)
        head_back = round(time.monotonic() - killed, 1)
        if ft:
            self.processes.wait_nodes(1 + len(state["workers"]), HEAD_START_TIMEOUT)  # the workers' raylets reconnected
            workers = "reconnected"
        else:
            self.processes.restart_workers(state, HEAD_START_TIMEOUT)
            workers = "restarted"
        redeployed = False
        service = state.get("service")
        if not ft and service:
            # What apply() PUT (a service applied by an older version of this module kept only its apps).
            serve_config = service.get("config") or {
                "http_options": {"host": config.LOOPBACK, "port": self.ports.serve},
                "applications": list(service["apps"].values()),
            }
            try:
                self.serve.put_config(serve_config)
            except ServeAPIError as exc:
                raise BackendError(f"The new head refused Serve's config: {exc}") from None
            redeployed = True
        return HeadLost(
            pod=self._pod_of("head"),
            contained_at=gone,
            gcs_fault_tolerance=ft,
            replicas=lost,
            head_back_s=head_back,
            workers=workers,
            redeployed=redeployed,
        )

    def _replicas_on(self, pids: set[int]) -> list[dict[str, Any]]:
        try:
            details = self.serve.details()
        except ServeAPIError:
            return []
        return [r for r in status_mod.replicas(details, state=None) if r.get("pid") in pids]

    def upgrade_cluster(self, manifest, revision: str) -> None:
        raise KindOnly("KubeRay's zero-downtime new-cluster upgrade (a rayClusterConfig change)")

    def cluster_names(self) -> tuple[str | None, str | None]:
        raise KindOnly("KubeRay's active and pending RayClusters (status.activeServiceStatus, pendingServiceStatus)")

    def install_monitoring(self) -> dict[str, str]:
        raise KindOnly("kube-prometheus-stack with Ray's Grafana dashboards")

    # -- down ------------------------------------------------------------------------------

    def down(self, quiet: bool = False) -> int:
        """Stop every process this backend started (by process group and by marker); idempotent.

        Returns the number of processes stopped.
        """
        stopped = self.processes.stop()
        if not quiet:
            print(f"Stopped {stopped} process(es) of the local cluster." if stopped else "Nothing was running.")
        return stopped
