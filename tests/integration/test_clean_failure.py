"""Failing cleanly: Ray that will not start, a wait that times out, Ctrl-C in the middle of a start, and a
kernel killed outright. Each says what happened; none leaves anything that `make down` cannot remove."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import config
from helpers.backends import BackendError
from helpers.backends import local as local_module
from helpers.backends.local import LocalBackend
from tests.integration.conftest import HELLO, SPARE_PORTS

pytestmark = pytest.mark.integration

START = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises, as in a kernel (even if inherited as ignored)
from helpers import config
from helpers.backends.local import LocalBackend
ports = config.Ports(**{k: int(v) for k, v in (a.split("=") for a in sys.argv[2:])})
LocalBackend(state_dir=sys.argv[1], ports=ports).up("manifests/ray-service.yaml")
print("UP", flush=True)
"""


def start_in_a_child(state_dir: Path) -> subprocess.Popen:
    ports = [f"{k}={v}" for k, v in SPARE_PORTS.to_dict().items()]
    return subprocess.Popen(
        [sys.executable, "-c", START, str(state_dir), *ports],
        cwd=config.PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # like a kernel: our signals go to it alone
    )


def wait_until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_ray_that_fails_to_start_shows_its_log_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(local_module, "HEAD_OBJECT_STORE", 1_000)  # Ray refuses an object store this small
    backend = LocalBackend(state_dir=tmp_path, ports=SPARE_PORTS)
    with pytest.raises(BackendError) as info:
        backend.up(HELLO)
    message = str(info.value)
    assert "Ray's head node failed to start (exit code" in message and "Last lines of" in message
    assert "object_store_memory" in message or "object store" in message.lower(), message
    assert backend.our_processes() == [] and not backend.state_file.exists()


def test_a_timeout_says_what_it_waited_for_and_shows_the_cluster(serving):
    """On the shared cluster: the apps deleted and applied afresh, a wait far too short for the replicas."""
    serving.delete_service()
    serving.apply(HELLO)
    with pytest.raises(TimeoutError) as info:
        serving.wait_ready(timeout=0.1)
    message = str(info.value)
    assert message.startswith("Waited 0 s for RayService ray-serve-app to be Ready; last state:")
    # Serve's own word first, then a status table, then the nodes.
    assert "What Serve says:" in message and "application  app status" in message
    assert message.index("What Serve says:") < message.index("application  app status")
    assert "workers-1" in message and "worker pod (group workers)" in message
    serving.wait_ready(timeout=120)  # the cluster itself is fine: a retry simply works


def test_ctrl_c_during_a_start_stops_what_was_started(tmp_path):
    child = start_in_a_child(tmp_path)
    backend = LocalBackend(state_dir=tmp_path, ports=SPARE_PORTS)
    try:
        # The head runs (its dashboard answers), the worker is joining: Ctrl-C lands in a wait.
        wait_until(lambda: (backend._state() or {}).get("head") and backend.serve.reachable())
        os.killpg(child.pid, signal.SIGINT)
        out, _ = child.communicate(timeout=120)
        assert child.returncode != 0 and "KeyboardInterrupt" in out, out[-2000:]
        assert "interrupted" in out
        assert backend.our_processes() == [] and not backend.state_file.exists()
        assert not backend.token_file.exists()
    finally:
        child.kill()
        backend.down(quiet=True)


def test_a_killed_kernel_leaves_nothing_make_down_cannot_remove(tmp_path):
    child = start_in_a_child(tmp_path)
    backend = LocalBackend(state_dir=tmp_path, ports=SPARE_PORTS)
    try:
        wait_until(lambda: (backend._state() or {}).get("head"))
        os.killpg(child.pid, signal.SIGKILL)  # no chance to clean up
        child.wait(timeout=30)
        assert backend.our_processes(), "the detached head outlives its kernel, by design"
        # `make down` is `python -m helpers down`: a new process that knows only the state folder.
        env = {**os.environ, "RAYSERVICE_TUTORIAL_STATE": str(tmp_path)}
        down = subprocess.run(
            [sys.executable, "-c", "from helpers import config; from helpers.backends.local import LocalBackend; "
             f"LocalBackend(ports=config.Ports(**{SPARE_PORTS.to_dict()!r})).down()"],
            cwd=config.PROJECT_ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert down.returncode == 0 and "Stopped" in down.stdout, down.stdout + down.stderr
        assert backend.our_processes() == [] and backend.leftovers() == []
    finally:
        child.kill()
        backend.down(quiet=True)
