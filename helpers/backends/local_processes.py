"""The local backend's processes: a Ray head node, one worker node per worker-group replica, and (with GCS fault
tolerance) a Redis, each started detached in its own process group and marked, so that ``stop()`` finds every one.

``LocalBackend`` decides what runs (it plays KubeRay's part); this class starts, waits for and stops the processes,
and knows their environment: what KubeRay sets in every Ray container of a RayService, Ray's loopback-only settings,
the authentication token, and GCS fault tolerance's Redis settings.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from helpers import config, procs, statefile
from helpers.backends import redis_server
from helpers.errors import BackendError
from helpers.progress import wait_for
from helpers.serve_api import ServeAPI, ServeAPIError

HEAD_OBJECT_STORE = 200_000_000  # bytes; Ray would otherwise reserve ~30 % of RAM per node
WORKER_OBJECT_STORE = 100_000_000
LOOPBACK_HOOK_DIR = Path(__file__).parent / "loopback"
# With GCS fault tolerance, how long a worker node's raylet keeps trying to reach a lost GCS before it exits
# (Ray's RAY_gcs_rpc_server_reconnect_timeout_s, 60 s by default): a restarted head takes 20-40 s to start on a
# 2-core machine, so the workers wait for it. KubeRay likewise gives worker pods a long timeout with GCS FT.
WORKER_GCS_RECONNECT_S = 600
HEAD_START_ATTEMPTS = 3  # a lost head is started again up to this many times


# KubeRay v1.6/v1.7 add these to every Ray container of a RayService (its common/pod.go): a dead actor's death
# info is not waited for, and the GCS and Serve's KV store time out in 5 s rather than Ray's defaults.
RAYSERVICE_POD_ENV = {
    "RAY_timeout_ms_task_wait_for_death_info": "0",
    "RAY_gcs_server_request_timeout_seconds": "5",
    "RAY_SERVE_KV_TIMEOUT_S": "5",
}


class LocalProcesses:
    """The processes of one local cluster: its state file names them (process groups), its marker finds strays."""

    def __init__(
        self, marker: str, state_dir: Path, ports: config.Ports, temp_dir: Path, state_file: Path, serve_api: ServeAPI
    ):
        self.marker = marker
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.ports = ports
        self.temp_dir = temp_dir  # Ray's temp dir: short, for its Unix sockets (108-byte limit)
        self.state_file = state_file
        self.serve_api = serve_api  # the head's dashboard: it answers once the head has started
        self.token_file = state_dir / "auth_token"  # Ray's token when the manifest asks for authOptions
        self.redis_files = redis_server.RedisFiles(state_dir)  # only with GCS fault tolerance

    def _state(self) -> dict[str, Any]:
        return statefile.read(self.state_file) or {}

    def _save(self, state: dict[str, Any]) -> None:
        statefile.write(self.state_file, state)

    def start_redis(self, state: dict[str, Any]) -> dict[str, Any]:
        """A fresh Redis (new password, empty data) for this cluster's GCS; saved in the state at once, so a
        start that fails later still stops it."""
        proc = redis_server.start(self.redis_files, self.ports.redis, self.env(), fresh=True)
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

    def ft_env(self, state: dict[str, Any] | None, head: bool) -> dict[str, str]:
        """Ray's external-Redis settings (read by Ray 2.55's own code), as KubeRay sets them with
        gcsFaultToleranceOptions: the head's GCS stores its tables in Redis at RAY_REDIS_ADDRESS, under the
        key prefix RAY_external_storage_namespace; the workers wait long for a restarted head."""
        redis = (state or {}).get("redis")
        if not redis:
            return {}
        if head:
            return {"RAY_REDIS_ADDRESS": redis["address"], "RAY_external_storage_namespace": redis["namespace"]}
        return {"RAY_gcs_rpc_server_reconnect_timeout_s": str(WORKER_GCS_RECONNECT_S)}

    def env(self) -> dict[str, str]:
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

    def check_ports(self, workers: int, redis: bool = False) -> None:
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

    def start_head(self, num_cpus: float, timeout: float, state: dict[str, Any] | None = None) -> dict[str, Any]:
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
        env = self.env()
        if (state or {}).get("redis"):
            env.update(self.ft_env(state, head=True))
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
            if code is not None and code != 0 and self.raylet_slow(proc.pid, log, log_start):
                return self.serve_api.reachable(), "the raylet is still registering with the GCS"
            if code is not None and code != 0:
                raise BackendError(
                    f"Ray's head node failed to start (exit code {code}). Last lines of {log}:\n" + procs.tail(log)
                )
            if code == 0 and not self.serve_api.reachable():
                dashboard_err = self.temp_dir / "session_latest" / "logs" / "dashboard.err"
                if "RuntimeError:" in procs.tail(dashboard_err, 200):
                    raise BackendError(
                        f"Ray's dashboard failed to start, so the head cannot take a RayService. Last lines of "
                        f"{dashboard_err}:\n{procs.tail(dashboard_err, 8)}\nThe machine may be too busy: close "
                        "other heavy programs, then run `make down` and start again."
                    )
            return code == 0 and self.serve_api.reachable(), "ray start --head"

        wait_for("starting the Ray head node", head_started, timeout)
        return head

    @staticmethod
    def raylet_slow(pgid: int, log: Path, log_start: int) -> bool:
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

    def start_worker(
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
        env = self.env()
        env.update(self.ft_env(state if state is not None else self._state(), head=False))
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

    def wait_nodes(self, expected: int, timeout: float) -> None:
        def nodes_alive() -> tuple[bool, str]:
            try:
                reply = self.serve_api.get_json("/nodes?view=summary")
                alive = sum(1 for n in reply["data"]["summary"] if n.get("raylet", {}).get("state") == "ALIVE")
            except (ServeAPIError, ValueError, KeyError):
                alive = 0
            return alive >= expected, f"{alive}/{expected} nodes alive"

        wait_for("waiting for every node to register", nodes_alive, timeout)

    def wait_head_gone(self, timeout: float = 30.0) -> None:
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

    def pgids(self) -> list[int]:
        state = self._state() or {}
        groups = [state.get("head") or {}] + state.get("workers", []) + [state.get("redis") or {}]
        return [g["pgid"] for g in groups if g.get("pgid")]

    def our_processes(self) -> list:
        """Every live process of this cluster: its process groups plus anything carrying its marker."""
        pgids = self.pgids()
        found = {p.pid: p for p in procs.group_members(pgids)}
        found.update({p.pid: p for p in procs.find_marked(self.marker)})
        return list(found.values())

    def listeners(self) -> list[tuple[str, int, int]]:
        """(address, port, pid) of every TCP socket the cluster listens on."""
        return procs.listeners({p.pid for p in self.our_processes()})

    def token(self) -> str | None:
        """Ray's authentication token of the running cluster (None when it runs without)."""
        try:
            return self.token_file.read_text().strip() or None
        except OSError:
            return None

    def write_token(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # only you can read it
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))

    def start(self, manifest, workers: list, timeout: float) -> None:
        """Start the cluster ``manifest`` describes: (Redis,) the head, one worker node per entry of ``workers``
        (its worker group), each saved in the state file as soon as it runs, so that ``stop()`` stops a start that
        fails half way."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.token_file.unlink(missing_ok=True)
        if manifest.auth_mode == "token":
            self.write_token()
        state = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "auth": manifest.auth_mode,
            "ports": self.ports.to_dict(),
            "temp_dir": str(self.temp_dir),
            "head": {},
            "workers": [],
            "groups": [[g.name, g.num_cpus] for g in manifest.worker_groups],  # what a replicas-only change keeps
            "service": None,
            "redis": None,
        }
        if manifest.gcs_fault_tolerance is not None:
            state["redis"] = self.start_redis(state)
        state["head"] = self.start_head(manifest.head_num_cpus, timeout, state)
        self._save(state)
        for i, group in enumerate(workers):
            state["workers"].append(self.start_worker(i, group.name, group.num_cpus, timeout, state))
            self._save(state)
        self.wait_nodes(1 + len(workers), timeout)

    def stop(self) -> int:
        """Stop every process of the cluster (by process group and by marker) and remove its files; idempotent.
        Returns the number of processes stopped."""
        stopped = procs.stop_groups(self.pgids(), marker=self.marker)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        self.token_file.unlink(missing_ok=True)
        redis_server.remove_files(self.redis_files)
        for ready in self.state_dir.glob("worker-*.ready"):
            ready.unlink()
        return stopped

    def kill_head(self, head: dict[str, Any]) -> float:
        """SIGKILL the head's whole process group at once (a deleted head pod) and wait until its ports are free.
        Returns that moment (time.monotonic())."""
        try:
            os.killpg(head["pgid"], signal.SIGKILL)
        except OSError:
            pass
        self.wait_head_gone()
        return time.monotonic()

    def restart_head(self, head: dict[str, Any], state: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Start a head again after it was lost, on the same ports, as KubeRay makes a new head pod."""
        # A new head pod starts with an empty /tmp/ray; here the temp dir is shared with the worker nodes. Ray's
        # `ray start --head` refuses to start when the address its last start wrote (<temp dir>/ray_current_cluster)
        # is also on a live process's command line (the workers' raylets name the GCS): forget that address.
        (self.temp_dir / "ray_current_cluster").unlink(missing_ok=True)
        for attempt in range(HEAD_START_ATTEMPTS):
            try:
                return self.start_head(head["num_cpus"], timeout, state)
            except BackendError:
                # On a loaded machine `ray start --head` can give up after its own 30 s wait for the raylet to
                # register; Kubernetes restarts a failed head container the same way (restartPolicy).
                if attempt + 1 == HEAD_START_ATTEMPTS:
                    raise
                procs.stop_groups([state["head"]["pgid"]], grace=2.0)
                self.wait_head_gone()
                (self.temp_dir / "ray_current_cluster").unlink(missing_ok=True)
                print("The new head did not start; starting it again, as the kubelet restarts a failed container.")
        raise AssertionError("unreachable")

    def restart_workers(self, state: dict[str, Any], timeout: float) -> None:
        """Restart every worker node so it joins the new head (their raylets exit when a new GCS does not know
        them: on Kubernetes their containers restart in the same pods), then wait until all have joined."""
        for i, worker in enumerate(list(state["workers"])):
            procs.stop_groups([worker["pgid"]], grace=2.0)
            state["workers"][i] = self.start_worker(i, worker["group"], worker["num_cpus"], timeout, state)
            self._save(state)
        self.wait_nodes(1 + len(state["workers"]), timeout)


def process_title(proc) -> str:
    """The title Ray gives a worker process (``ray::ProxyActor``, ``ray::ServeReplica:hello:Hello``), read from its
    command line, which is the same for every thread. Not ``proc.name()``: that is the main thread's name, and Ray
    renames whichever thread runs a task, so a proxy's main thread can still be called ``ray::IDLE``."""
    try:
        return " ".join(proc.cmdline()[:1]) or proc.name()
    except procs.psutil.Error:
        return ""


def refuse_while_host_runs() -> None:
    """The local and host backends never run at once: kubelet's ports (10248-10259) fall in Ray's worker port range."""
    from helpers.host.cluster import started_pids

    running = started_pids()
    if running:
        raise BackendError(
            f"The host backend's Kubernetes runs on this machine ({', '.join(sorted(running))}): the local backend "
            "cannot start beside it. Stop it first: `make down BACKEND=host`."
        )


def proxies_of(pgids: list[int]) -> list:
    """Serve's HTTP proxy processes among the process groups ``pgids`` (the Ray nodes)."""
    return [p for p in procs.group_members(pgids) if process_title(p).startswith("ray::ProxyActor")]
