"""Processes and ports: start detached, find ours, stop ours (never anyone else's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

# Every process the tutorial starts carries this variable (inherited by Ray's children),
# so teardown can find exactly ours, even after a kernel died and forgot the PIDs.
MARKER_VAR = "RAYSERVICE_TUTORIAL_CLUSTER"


def start_detached(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``args`` in its own session (so it outlives the notebook kernel), logging to a file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(log_path.parent),
        )


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def find_marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``MARKER_VAR=marker``."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me or not _alive(proc):
            continue
        try:
            if proc.environ().get(MARKER_VAR) == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def group_members(pgids: list[int]) -> list[psutil.Process]:
    """Live (non-zombie) processes in the process groups ``pgids``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in pgids and _alive(proc):
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def group_alive(pgid: int) -> bool:
    return bool(group_members([pgid]))


def group_names(pgid: int) -> set[str]:
    """The names of the live processes in process group ``pgid`` (e.g. {"gcs_server", "raylet"})."""
    names = set()
    for member in group_members([pgid]):
        try:
            names.add(member.name())
        except psutil.Error:  # exited since it was listed
            continue
    return names


def stop_groups(pgids: list[int], marker: str | None = None, grace: float = 5.0, sweeps: int = 5) -> int:
    """SIGTERM the process groups (and marked strays), SIGKILL what is left after ``grace`` s.

    A process can fork while the groups are being listed (Ray's raylet starts workers at any time), so the
    child is not in the first list. After the first round, the groups and the marker are listed again and
    whatever appeared is killed outright (its parents are gone by then), up to ``sweeps`` times.
    Returns how many processes were signalled.
    """

    def ours() -> dict[int, psutil.Process]:
        found = {p.pid: p for p in group_members(pgids)}
        if marker:
            found.update({p.pid: p for p in find_marked(marker)})
        return found

    signalled: dict[int, psutil.Process] = {}
    procs = ours()
    for _ in range(max(1, sweeps)):
        if not procs:
            break
        first = not signalled
        signalled.update(procs)
        if first:
            for proc in procs.values():
                _signal(proc, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(_alive(p) for p in procs.values()):
                time.sleep(0.2)
        for proc in procs.values():
            if _alive(proc):
                _signal(proc, signal.SIGKILL)
        for proc in procs.values():
            try:
                proc.wait(timeout=2)
            except (psutil.Error, psutil.TimeoutExpired):
                pass
        procs = ours()
    return len(signalled)


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` (any address), if this user can see it."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def port_holder(port: int) -> str | None:
    """Who listens on TCP ``port`` (any address), e.g. 'python3 (pid 123) on 0.0.0.0'; None if free."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            who = "an unknown process"
            if conn.pid:
                try:
                    who = f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
                except psutil.Error:
                    who = f"pid {conn.pid}"
            return f"{who} on {conn.laddr.ip}"
    # Not listening, but maybe bound (or not visible to us): try it. SO_REUSEADDR as servers
    # use it, so connections of a cluster that just stopped (TIME_WAIT) do not count as busy.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return "another process (the port cannot be bound)"
    return None


def listeners(pids: set[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP listening socket owned by ``pids``."""
    return sorted(
        (conn.laddr.ip, conn.laddr.port, conn.pid)
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids
    )


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False
