"""The port-forwards of a Kubernetes backend: Ray's dashboard, Serve and the metrics of the active RayCluster on
127.0.0.1, each a ``python -m helpers.backends.forward`` process that follows its Service (a new head pod, a promoted
RayCluster) for every new connection."""

from __future__ import annotations

import os
import sys

import psutil

from helpers import procs
from helpers.backends import forward
from helpers.errors import BackendError
from helpers.kubectl import head_service, serve_service


class PortForwards:
    """The forwards of one backend (its namespace, context, ports and state file)."""

    def __init__(self, backend):
        self.backend = backend

    def targets(self, name: str) -> list[tuple[str, str, int, int]]:
        return [
            ("dashboard", head_service(name), self.backend.ports.dashboard, 8265),
            ("serve", serve_service(name), self.backend.ports.serve, 8000),
            ("metrics", head_service(name), self.backend.ports.metrics, 8080),
        ]

    def ensure(self) -> None:
        """Start (or restart) the port-forwards to the head and serve Services, on 127.0.0.1 only."""
        name = self.backend._state().get("service")
        if not name:
            return
        state = self.backend._state()
        forwards = state.setdefault("forwards", {})
        for label, service, local, remote in self.targets(name):
            pid = forwards.get(label)
            if pid and pid_alive(pid) and procs.wait_port(local, timeout=0.5):
                continue
            if pid:
                procs.stop_groups([pid], grace=1)
            # Not `kubectl port-forward svc/...`: that picks one pod when it starts and never follows the
            # Service (kubernetes/kubectl#686). This forward resolves the Service's ready endpoints for every
            # new connection, so a replaced head pod or a promoted RayCluster is reached without a restart.
            args = forward.command(
                sys.executable,
                service,
                local,
                remote,
                self.backend.namespace,
                self.backend.context,
                self.backend.pod_network,
            )
            same = same_forward(procs.listener_pid(local), args)
            if same:  # the very forward, started from another state folder (another session): share it
                forwards[label] = same
                self.backend._save(state)
                continue
            holder = procs.port_holder(local)
            if holder:
                raise BackendError(f"Cannot forward {service}: port {local} is in use by {holder}.")
            env = {**os.environ, procs.MARKER_VAR: self.backend.marker}
            forwards[label] = self.backend.commands.start(args, env, self.backend.log_dir / f"port-forward-{label}.log")
            self.backend._save(state)
            if not procs.wait_port(local, timeout=20):
                raise BackendError(
                    f"`{' '.join(args)}` did not open 127.0.0.1:{local}. Its log:\n"
                    + procs.tail(self.backend.log_dir / f"port-forward-{label}.log")
                )

    def stop(self) -> int:
        state = self.backend._state()
        stopped = procs.stop_groups(list((state.get("forwards") or {}).values()), marker=self.backend.marker, grace=2)
        state.pop("forwards", None)
        if state:
            self.backend._save(state)
        return stopped

    def dashboard_forwarded(self) -> bool:
        """Our forward to the dashboard runs (not whatever else may hold the port)."""
        forward = (self.backend._state().get("forwards") or {}).get("dashboard")
        return bool(forward) and pid_alive(forward)


def same_forward(pid: int | None, args: list[str]) -> int | None:
    """``pid`` if it is a forward started with exactly ``args`` (its interpreter aside), else None."""
    if not pid:
        return None
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return None
    return pid if cmdline[1:] == list(args[1:]) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return procs.group_alive(pid)
