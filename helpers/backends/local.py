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
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from helpers import config, procs, statefile, transcripts
from helpers import status as status_mod
from helpers.backends import redis_server
from helpers.backends.base import BackendError, DeployFailedError, KindOnly, NotRunningError
from helpers.kubectl import Command, Kubectl, show_local
from helpers.manifests import RayServiceManifest, as_manifest, lint_before_apply
from helpers.progress import wait_for
from helpers.serve_api import ServeAPI, ServeAPIError

HEAD_OBJECT_STORE = 200_000_000  # bytes; Ray would otherwise reserve ~30 % of RAM per node
WORKER_OBJECT_STORE = 100_000_000
LOOPBACK_HOOK_DIR = Path(__file__).parent / "loopback"
PROXY_WAIT_S = 60.0  # Serve restarts a dead proxy after 3 failed health checks, 10 s apart
# With GCS fault tolerance, how long a worker node's raylet keeps trying to reach a lost GCS before it exits
# (Ray's RAY_gcs_rpc_server_reconnect_timeout_s, 60 s by default): a restarted head takes 20-40 s to start on a
# 2-core machine, so the workers wait for it. KubeRay likewise gives worker pods a long timeout with GCS FT.
WORKER_GCS_RECONNECT_S = 600
HEAD_START_ATTEMPTS = 3  # a lost head is started again up to this many times


class LocalBackend:
    name = "local"
    service_moves = False  # Serve's proxy listens on 127.0.0.1 itself: nothing in between to repoint

    def __init__(
        self, state_dir: Path | None = None, ports: config.Ports | None = None, namespace: str = "rayservice-tutorial"
    ):
        # No Kubernetes here: the namespace only names the kubectl commands the lessons show.
        self.kubectl = Kubectl(namespace)
        self.state_dir = Path(state_dir or config.state_dir())
        self.ports = ports or config.Ports()
        digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:8]
        self.marker = f"local-{digest}"
        # Ray puts Unix sockets under its temp dir: keep the path short (108-byte limit).
        self.temp_dir = Path("/tmp") / f"rst-{digest}"
        self.state_file = self.state_dir / "local-cluster.json"
        self.token_file = self.state_dir / "auth_token"  # Ray's token when the manifest asks for authOptions
        self.log_dir = self.state_dir / "logs"
        self.redis_files = redis_server.RedisFiles(self.state_dir)  # only with GCS fault tolerance
        self.api = ServeAPI(self.urls()["dashboard"], token=self.token)

    def on_kubernetes(self, command: Command, check: bool = False) -> None:
        """Show ``command`` (from ``self.kubectl``) and what this backend does in its place; run nothing."""
        print(show_local(command))
        transcripts.show(command.args)  # what it printed on a real cluster, recorded

    # -- addresses -------------------------------------------------------------------------

    def urls(self) -> dict[str, str]:
        host = config.LOOPBACK
        return {
            "serve": f"http://{host}:{self.ports.serve}",
            "dashboard": f"http://{host}:{self.ports.dashboard}",
            "metrics": f"http://{host}:{self.ports.metrics}",
        }

    @property
    def serve_url(self) -> str:
        return self.urls()["serve"]

    # -- state -----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any] | None:
        return statefile.read(self.state_file)

    def _save(self, state: dict[str, Any]) -> None:
        statefile.write(self.state_file, state)

    def token(self) -> str | None:
        """Ray's authentication token of the running cluster (None when it runs without)."""
        try:
            return self.token_file.read_text().strip() or None
        except OSError:
            return None

    def _write_token(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # only you can read it
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))

    def is_up(self) -> bool:
        state = self._state()
        pgid = (state or {}).get("head", {}).get("pgid")
        return bool(pgid) and procs.group_alive(pgid) and self.api.reachable()

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
                    f"The running local cluster has GCS fault tolerance {_on_off(running_ft)}; {manifest.source} "
                    f"asks for it {_on_off(ft)}. Where the GCS keeps its tables (memory or Redis) is chosen when "
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
        _refuse_while_host_runs()
        if state or procs.find_marked(self.marker):
            print("Cleaning up what is left of an earlier cluster that is no longer running.")
            self.down(quiet=True)
        self._check_ports(len(workers), redis=ft)

        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.token_file.unlink(missing_ok=True)
        if manifest.auth_mode == "token":
            self._write_token()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        state = {
            "started": started,
            "auth": manifest.auth_mode,
            "ports": self.ports.to_dict(),
            "temp_dir": str(self.temp_dir),
            "head": {},
            "workers": [],
            "service": None,
            "redis": None,
        }
        try:
            if ft:
                state["redis"] = self._start_redis(state)
            state["head"] = self._start_head(manifest.head_num_cpus, timeout, state)
            self._save(state)
            for i, group in enumerate(workers):
                state["workers"].append(self._start_worker(i, group.name, group.num_cpus, timeout, state))
                self._save(state)
            self._wait_nodes(1 + len(workers), timeout)
        except BaseException:
            # Never leave half a cluster behind: a failed or interrupted start stops what it started.
            self.down(quiet=True)
            raise
        return self.describe()

    def _start_redis(self, state: dict[str, Any]) -> dict[str, Any]:
        """A fresh Redis (new password, empty data) for this cluster's GCS; saved in the state at once, so a
        start that fails later still stops it."""
        proc = redis_server.start(self.redis_files, self.ports.redis, self._env(), fresh=True)
        redis = {
            "pgid": proc.pid,
            "address": f"{config.LOOPBACK}:{self.ports.redis}",
            "log": str(self.redis_files.log),
            # KubeRay uses the RayCluster's UID: one cluster's tables never mix with another's in a shared Redis.
            "namespace": f"{self.marker}-{secrets.token_hex(4)}",
        }
        state["redis"] = redis
        self._save(state)
        return redis

    def _ft_env(self, state: dict[str, Any] | None, head: bool) -> dict[str, str]:
        """Ray's external-Redis settings (read by Ray 2.55's own code), as KubeRay sets them with
        gcsFaultToleranceOptions: the head's GCS stores its tables in Redis at RAY_REDIS_ADDRESS, under the
        key prefix RAY_external_storage_namespace; the workers wait long for a restarted head."""
        redis = (state or {}).get("redis")
        if not redis:
            return {}
        if head:
            return {"RAY_REDIS_ADDRESS": redis["address"], "RAY_external_storage_namespace": redis["namespace"]}
        return {"RAY_gcs_rpc_server_reconnect_timeout_s": str(WORKER_GCS_RECONNECT_S)}

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = [str(config.APPS_DIR), str(LOOPBACK_HOOK_DIR)]
        if env.get("PYTHONPATH"):
            path.append(env["PYTHONPATH"])
        env.update(
            {
                procs.MARKER_VAR: self.marker,
                "PYTHONPATH": os.pathsep.join(path),
                # Keeps the node IP at 127.0.0.1 and Ray's listeners on loopback.
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_USAGE_STATS_ENABLED": "0",
                # What KubeRay sets in every RayService pod, so both backends run Ray configured alike.
                **RAYSERVICE_POD_ENV,
                # Report metrics every 2 s instead of 10 s, so lesson 06's plots move.
                "RAY_metrics_report_interval_ms": "2000",
                # The dashboard gives each of its modules 30 s to start and otherwise stays up without an API;
                # on a busy 2-core machine MetricsHead alone can take longer. Give them 5 minutes.
                "RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT": "300",
            }
        )
        env.pop("RAY_AUTH_TOKEN", None)  # never someone else's token
        for name in ("RAY_REDIS_ADDRESS", "RAY_external_storage_namespace", "RAY_gcs_rpc_server_reconnect_timeout_s"):
            env.pop(name, None)  # only the cluster's own GCS fault tolerance settings (_ft_env)
        if self.token():
            # Ray's token authentication (Ray >= 2.52): dashboard, agents and GCS/raylet gRPC need the token.
            env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_file)})
        else:
            env.update({"RAY_AUTH_MODE": "disabled"})
            env.pop("RAY_AUTH_TOKEN_PATH", None)
        return env

    def _check_ports(self, workers: int, redis: bool = False) -> None:
        busy = []
        for what, port in self.ports.named(workers, redis=redis).items():
            holder = procs.port_holder(port)
            if holder:
                busy.append(f"port {port} ({what}) is in use by {holder}")
        if busy:
            raise BackendError(
                "Cannot start the local cluster:\n  - "
                + "\n  - ".join(busy)
                + "\nStop what holds these ports (`make down` stops the tutorial's own cluster), "
                "or pass other ports: LocalBackend(ports=Ports(serve=18000, redis=16380, ...))."
            )

    def _start_head(self, num_cpus: float, timeout: float, state: dict[str, Any] | None = None) -> dict[str, Any]:
        p = self.ports
        log = self.log_dir / "head.log"
        args = [
            sys.executable,
            "-c",
            "from ray.scripts.scripts import main; main()",
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={p.gcs}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={p.dashboard}",
            f"--metrics-export-port={p.metrics}",
            f"--ray-client-server-port={p.client}",
            f"--dashboard-agent-listen-port={p.agent}",
            f"--num-cpus={num_cpus:g}",
            f"--object-store-memory={HEAD_OBJECT_STORE}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
        ]
        env = self._env()
        if (state or {}).get("redis"):
            env.update(self._ft_env(state, head=True))
            # Ray 2.55 takes the Redis password only as this (hidden) `ray start` option and hands it to the GCS
            # server's command line; KubeRay does the same with the Secret: --redis-password=$REDIS_PASSWORD.
            args.append(f"--redis-password={redis_server.read_password(self.redis_files)}")
        log_start = log.stat().st_size if log.exists() else 0  # the log is appended to: read this start's part
        proc = procs.start_detached(args, env, log)
        head = {"pgid": proc.pid, "log": str(log), "num_cpus": num_cpus}
        if state is not None:  # saved before the wait: a start that fails or hangs is still stopped by down()
            state["head"] = head
            self._save(state)

        def head_started() -> tuple[bool, str]:
            code = proc.poll()
            if code is not None and code != 0 and self._raylet_slow(proc.pid, log, log_start):
                return self.api.reachable(), "the raylet is still registering with the GCS"
            if code is not None and code != 0:
                raise BackendError(
                    f"Ray's head node failed to start (exit code {code}). Last lines of {log}:\n" + procs.tail(log)
                )
            if code == 0 and not self.api.reachable():
                dashboard_err = self.temp_dir / "session_latest" / "logs" / "dashboard.err"
                if "RuntimeError:" in procs.tail(dashboard_err, 200):
                    raise BackendError(
                        f"Ray's dashboard failed to start, so the head cannot take a RayService. Last lines of "
                        f"{dashboard_err}:\n{procs.tail(dashboard_err, 8)}\nThe machine may be too busy: close "
                        "other heavy programs, then run `make down` and start again."
                    )
            return code == 0 and self.api.reachable(), "ray start --head"

        wait_for("starting the Ray head node", head_started, timeout)
        return head

    @staticmethod
    def _raylet_slow(pgid: int, log: Path, log_start: int) -> bool:
        """True when `ray start --head` gave up only on its own fixed 30 s wait for the raylet to register with
        the GCS (Ray's "The current node timed out during startup") while the head's GCS and raylet still run.

        `ray start` does not stop what it started when it gives up, and nothing after that wait matters to the
        tutorial (Ray's own statistics and the printed next steps), so the head is waited for as usual. A GCS
        reading a large cluster back from Redis while every worker raylet reconnects can take longer than that.
        """
        try:
            with open(log, "rb") as f:
                f.seek(log_start)
                tail = f.read().decode(errors="replace")
        except OSError:
            return False
        if "timed out during startup" not in tail:
            return False
        return {"gcs_server", "raylet"} <= procs.group_names(pgid)

    def _start_worker(
        self, index: int, group: str, num_cpus: float, timeout: float, state: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        name = f"{group}-{index + 1}"
        log = self.log_dir / f"worker-{name}.log"
        ready = self.state_dir / f"worker-{name}.ready"
        ready.unlink(missing_ok=True)
        args = [
            sys.executable,
            "-m",
            "helpers.backends.local_node",
            f"--gcs=127.0.0.1:{self.ports.gcs}",
            f"--agent-port={self.ports.agent + 1 + index}",
            f"--metrics-port={self.ports.metrics + 1 + index}",
            f"--num-cpus={num_cpus:g}",
            f"--object-store-memory={WORKER_OBJECT_STORE}",
            f"--temp-dir={self.temp_dir}",
            f"--ready-file={ready}",
        ]
        env = self._env()
        env.update(self._ft_env(state if state is not None else self._state(), head=False))
        env["PYTHONPATH"] = os.pathsep.join([str(config.PROJECT_ROOT), env["PYTHONPATH"]])
        proc = procs.start_detached(args, env, log)

        def joined() -> tuple[bool, str]:
            if proc.poll() is not None:
                raise BackendError(
                    f"Worker node {name} exited (code {proc.returncode}). Last lines of {log}:\n" + procs.tail(log)
                )
            return ready.exists(), "joining the head"

        wait_for(f"starting worker node {name}", joined, timeout)
        return {"name": name, "group": group, "index": index, "pgid": proc.pid, "log": str(log), "num_cpus": num_cpus}

    def _wait_nodes(self, expected: int, timeout: float) -> None:
        def nodes_alive() -> tuple[bool, str]:
            try:
                reply = self.api.get_json("/nodes?view=summary")
                alive = sum(1 for n in reply["data"]["summary"] if n.get("raylet", {}).get("state") == "ALIVE")
            except (ServeAPIError, ValueError, KeyError):
                alive = 0
            return alive >= expected, f"{alive}/{expected} nodes alive"

        wait_for("waiting for every node to register", nodes_alive, timeout)

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
        running = [w["num_cpus"] for w in state["workers"]]
        wanted = [g.num_cpus for g in manifest.worker_groups for _ in range(g.replicas)]
        auth = state.get("auth", "disabled")
        ft, wanted_ft = bool(state.get("redis")), manifest.gcs_fault_tolerance is not None
        if (
            running != wanted
            or state["head"]["num_cpus"] != manifest.head_num_cpus
            or auth != manifest.auth_mode
            or ft != wanted_ft
        ):
            raise BackendError(
                f"{manifest.source}: rayClusterConfig differs from the running cluster "
                f"(worker nodes {len(running)} -> {len(wanted)}, head CPUs "
                f"{state['head']['num_cpus']:g} -> {manifest.head_num_cpus:g}, auth {auth} -> "
                f"{manifest.auth_mode}, GCS fault tolerance {_on_off(ft)} -> {_on_off(wanted_ft)}). "
                "On kind, KubeRay would "
                "build a new cluster and switch traffic to it with zero downtime; the local backend "
                "cannot do that. Nothing was changed. To use this cluster shape here, run `make down` "
                "(or backend.down()) and start again with backend.up(manifest)."
            )
        serve_config = self.serve_config_for(manifest)
        try:
            self.api.put_config(serve_config)
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
        return self._status_from(self.api.details(), state)

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
                details = self.api.details()
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
        self.api.delete_all()
        state["service"] = None
        self._save(state)

    # -- faults (lesson 04) ----------------------------------------------------------------------

    def running_replicas(self, app: str) -> list[dict[str, Any]]:
        """The RUNNING replicas of ``app``: id, pid, node."""
        self._require_up()
        return status_mod.replicas(self.api.details(), app)

    def kill_replica(self, app: str) -> dict[str, Any]:
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
        return {"pod": pod, "replica": victim["replica_id"], "pid": victim["pid"], "node": victim["node_id"][:8]}

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

    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> dict[str, Any]:
        """Kill worker node ``index`` and every Ray process on it at once (a node or pod lost), then,
        as KubeRay recreates a deleted pod, start a new worker node in its place."""
        state = self._require_up()
        if not 0 <= index < len(state["workers"]):
            raise BackendError(f"There is no worker node {index}: the cluster has {len(state['workers'])}.")
        worker = state["workers"][index]
        members = procs.group_members([worker["pgid"]])
        pids = {p.pid for p in members}
        lost = [r["replica_id"] for r in status_mod.replicas(self.api.details(), state=None) if r.get("pid") in pids]
        pod = self._pod_of(worker["name"])
        self.on_kubernetes(self.kubectl.delete_pod(pod))
        for proc in members:
            try:
                proc.kill()
            except procs.psutil.Error:
                pass
        time.sleep(restart_after)
        started = time.monotonic()
        state["workers"][index] = self._start_worker(index, worker["group"], worker["num_cpus"], timeout)
        self._save(state)
        return {
            "pod": pod,
            "node": worker["name"],
            "replicas": lost,
            "replaced_in_s": round(time.monotonic() - started, 1),
        }

    def kill_proxy(self) -> dict[str, Any]:
        """SIGKILL the head node's HTTP proxy; the controller restarts it after failed health checks."""
        state = self._require_up()

        def head_proxies() -> list:
            return [p for p in procs.group_members([state["head"]["pgid"]]) if _name(p).startswith("ray::ProxyActor")]

        proxies = head_proxies()

        def proxy_back() -> tuple[bool, str]:
            proxies[:] = head_proxies()
            return bool(proxies), "Serve is restarting it"

        if not proxies:  # right after an earlier fault Serve may still be restarting the head's proxy
            try:
                wait_for("the head node's HTTP proxy", proxy_back, PROXY_WAIT_S, interval=1.0)
            except TimeoutError:
                raise BackendError(
                    f"No HTTP proxy is running on the head node (waited {PROXY_WAIT_S:.0f} s)."
                ) from None
        head_node = (self.api.details().get("controller_info") or {}).get("node_id")
        old = (self.proxies().get(head_node) or {}).get("actor_id")
        self.on_kubernetes(self.kubectl.exec(self._pod_of("head"), "pkill", "-9", "-f", "ray::ProxyActor"))
        proxies[0].kill()
        # Its socket closes when it is gone: the kernel gives new connections on the shared port to the live proxies.
        psutil.wait_procs(proxies[:1], timeout=10)
        contained = time.monotonic()
        return {
            "pod": self._pod_of("head"),
            "pid": proxies[0].pid,
            "node_id": head_node,
            "proxy_actor": old,
            "contained_at": contained,
        }

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Serve's HTTP proxies by node id: actor id and status (HEALTHY, UNHEALTHY, STARTING...)."""
        self._require_up()
        return self.api.details().get("proxies") or {}

    def replace_cluster(self, manifest: RayServiceManifest | str | Path, timeout: float = 300) -> None:
        """A new cluster from ``manifest``, its applications applied: KubeRay's answer to a ``rayClusterConfig``
        change (such as adding ``gcsFaultToleranceOptions``) is a new RayCluster. A running GCS cannot change
        where it keeps its tables, so the local backend stops this cluster and starts the new one; the
        applications are down in between (on Kubernetes the old cluster serves until the new one is ready).
        Wait for the applications with ``wait_ready()``."""
        manifest = lint_before_apply(as_manifest(manifest))  # a bad manifest stops nothing
        print(
            "(local backend, no Kubernetes here: it stops this cluster and starts one from the manifest, "
            "where KubeRay would build a new RayCluster next to the old one)"
        )
        self.down(quiet=True)
        self.up(manifest, timeout)
        self.apply(manifest)

    def delete_head_pod(self) -> dict[str, Any]:
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
        try:
            os.killpg(head["pgid"], signal.SIGKILL)
        except OSError:
            pass
        self._wait_head_gone()
        gone = time.monotonic()  # the head's sockets closed with its processes: no new request reaches them
        # A new head pod starts with an empty /tmp/ray; here the temp dir is shared with the worker nodes. Ray's
        # `ray start --head` refuses to start when the address its last start wrote (<temp dir>/ray_current_cluster)
        # is also on a live process's command line (the workers' raylets name the GCS): forget that address.
        (self.temp_dir / "ray_current_cluster").unlink(missing_ok=True)
        timeout = 180.0
        for attempt in range(HEAD_START_ATTEMPTS):
            try:
                state["head"] = self._start_head(head["num_cpus"], timeout, state)
                break
            except BackendError:
                # On a loaded machine `ray start --head` can give up after its own 30 s wait for the raylet to
                # register; Kubernetes restarts a failed head container the same way (restartPolicy).
                if attempt + 1 == HEAD_START_ATTEMPTS:
                    raise
                procs.stop_groups([state["head"]["pgid"]], grace=2.0)
                self._wait_head_gone()
                (self.temp_dir / "ray_current_cluster").unlink(missing_ok=True)
                print("The new head did not start; starting it again, as the kubelet restarts a failed container.")
        self._save(state)
        head_back = round(time.monotonic() - killed, 1)
        if ft:
            self._wait_nodes(1 + len(state["workers"]), timeout)  # the workers' raylets reconnected
            workers = "reconnected"
        else:
            for i, worker in enumerate(list(state["workers"])):
                procs.stop_groups([worker["pgid"]], grace=2.0)
                state["workers"][i] = self._start_worker(i, worker["group"], worker["num_cpus"], timeout, state)
                self._save(state)
            self._wait_nodes(1 + len(state["workers"]), timeout)
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
                self.api.put_config(serve_config)
            except ServeAPIError as exc:
                raise BackendError(f"The new head refused Serve's config: {exc}") from None
            redeployed = True
        return {
            "pod": self._pod_of("head"),
            "contained_at": gone,
            "gcs_fault_tolerance": ft,
            "replicas": lost,
            "head_back_s": head_back,
            "workers": workers,
            "redeployed": redeployed,
        }

    def _replicas_on(self, pids: set[int]) -> list[dict[str, Any]]:
        try:
            details = self.api.details()
        except ServeAPIError:
            return []
        return [r for r in status_mod.replicas(details, state=None) if r.get("pid") in pids]

    def _wait_head_gone(self, timeout: float = 30.0) -> None:
        """Until the head's own ports are free again (a process of ours still holding one is killed too)."""
        p = self.ports
        ports = {p.gcs, p.dashboard, p.metrics, p.client, p.agent}

        def gone() -> tuple[bool, str]:
            held = [port for port in ports if procs.port_holder(port)]
            for pid in {pid for _, port, pid in self.listeners() if port in ports}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return not held, f"ports {sorted(held)} still held" if held else "free"

        wait_for("the head node's processes to be gone", gone, timeout, interval=0.2)

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
        pgids = self._pgids()
        stopped = procs.stop_groups(pgids, marker=self.marker)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        self.token_file.unlink(missing_ok=True)
        redis_server.remove_files(self.redis_files)
        for ready in self.state_dir.glob("worker-*.ready"):
            ready.unlink()
        if not quiet:
            print(f"Stopped {stopped} process(es) of the local cluster." if stopped else "Nothing was running.")
        return stopped

    def _pgids(self) -> list[int]:
        state = self._state() or {}
        groups = [state.get("head") or {}] + state.get("workers", []) + [state.get("redis") or {}]
        return [g["pgid"] for g in groups if g.get("pgid")]

    def our_processes(self) -> list:
        """Every live process of this cluster: its process groups plus anything carrying its marker."""
        pgids = self._pgids()
        found = {p.pid: p for p in procs.group_members(pgids)}
        found.update({p.pid: p for p in procs.find_marked(self.marker)})
        return list(found.values())

    def listeners(self) -> list[tuple[str, int, int]]:
        """(address, port, pid) of every TCP socket the cluster listens on."""
        return procs.listeners({p.pid for p in self.our_processes()})

    def listening_addresses(self) -> list[str]:
        """The distinct addresses the cluster listens on: only ['127.0.0.1'] if all is well."""
        return sorted({addr.removeprefix("::ffff:") for addr, _, _ in self.listeners()})


def _on_off(on: bool) -> str:
    return "on" if on else "off"


def _name(proc) -> str:
    try:
        return proc.name() + " " + " ".join(proc.cmdline()[:1])
    except procs.psutil.Error:
        return ""


# KubeRay v1.6/v1.7 add these to every Ray container of a RayService (its common/pod.go): a dead actor's death
# info is not waited for, and the GCS and Serve's KV store time out in 5 s rather than Ray's defaults.
RAYSERVICE_POD_ENV = {
    "RAY_timeout_ms_task_wait_for_death_info": "0",
    "RAY_gcs_server_request_timeout_seconds": "5",
    "RAY_SERVE_KV_TIMEOUT_S": "5",
}


def _refuse_while_host_runs() -> None:
    """The local and host backends never run at once: kubelet's ports (10248-10259) fall in Ray's worker port range."""
    from helpers.host.cluster import started_pids

    running = started_pids()
    if running:
        raise BackendError(
            f"The host backend's Kubernetes runs on this machine ({', '.join(sorted(running))}): the local backend "
            "cannot start beside it. Stop it first: `make down BACKEND=host`."
        )
