import socket
import subprocess
import sys
import time

import pytest

from helpers import procs
from helpers.progress import wait_for
from helpers.runner import Result, table


def test_port_holder_names_the_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        holder = procs.port_holder(port)
        assert holder and "127.0.0.1" in holder and "pid" in holder
    assert procs.port_holder(port) is None


def test_start_detached_and_stop_by_group_and_marker(tmp_path):
    env = {"PATH": "/usr/bin:/bin", procs.MARKER_VAR: "unit-test-marker"}
    proc = procs.start_detached([sys.executable, "-c", "import time; time.sleep(60)"], env, tmp_path / "x.log")
    assert procs.group_alive(proc.pid)
    assert [p.pid for p in procs.find_marked("unit-test-marker")] == [proc.pid]
    assert procs.stop_groups([proc.pid], marker="unit-test-marker", grace=2) == 1
    assert not procs.group_alive(proc.pid)
    assert procs.find_marked("unit-test-marker") == []


# On SIGTERM this parent forks a child that ignores SIGTERM, then exits: the child was in no list taken before the
# signal, as a worker a raylet starts while the cluster is being stopped.
FORK_ON_TERM = """
import os, signal, time
def term(*_):
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(os.environ["CHILD_FILE"], "w").write(str(os.getpid()))
        time.sleep(60)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
open(os.environ["READY_FILE"], "w").write("ready")
time.sleep(60)
"""


def test_stop_groups_also_stops_what_forked_while_it_was_stopping(tmp_path):
    child_file, ready = tmp_path / "child.pid", tmp_path / "ready"
    env = {
        "PATH": "/usr/bin:/bin",
        procs.MARKER_VAR: "unit-test-fork",
        "CHILD_FILE": str(child_file),
        "READY_FILE": str(ready),
    }
    proc = procs.start_detached([sys.executable, "-c", FORK_ON_TERM], env, tmp_path / "x.log")
    wait_for("the parent to set its handler", lambda: (ready.exists(), "not yet"), timeout=30, interval=0.05)
    try:
        assert procs.stop_groups([proc.pid], marker="unit-test-fork", grace=2) == 2  # the parent, then its child
        assert not procs.group_alive(proc.pid)
        assert procs.find_marked("unit-test-fork") == []
    finally:
        procs.stop_groups([proc.pid], marker="unit-test-fork", grace=0.5)


def test_wait_for_returns_and_times_out_with_the_last_state():
    calls = []
    seconds = wait_for("thing", lambda: (calls.append(1) or len(calls) >= 2, "x"), timeout=5, interval=0.01)
    assert len(calls) == 2 and isinstance(seconds, float) and seconds < 5  # returned as soon as the check held
    with pytest.raises(TimeoutError, match=r"Waited 0 s for nothing to happen; last state: still waiting"):
        wait_for(
            "nothing to happen",
            lambda: (False, "still waiting"),
            timeout=0.05,
            interval=0.01,
            on_timeout=lambda: "diagnosis",
        )


def test_wait_for_stops_early_on_an_exception():
    start = time.monotonic()

    def boom():
        raise RuntimeError("deploy failed")

    with pytest.raises(RuntimeError, match="deploy failed"):
        wait_for("x", boom, timeout=30)
    assert time.monotonic() - start < 5


def test_summary_table_names_the_failing_notebook():
    text = table(
        [
            Result("00_a.ipynb", "ok", 1.0),
            Result("01_b.ipynb", "failed", 2.0, "cell 3: KeyError"),
            Result("02_c.ipynb", "skipped"),
        ]
    )
    assert "01_b.ipynb  failed" in text and "FAILED: 01_b.ipynb, cell 3: KeyError" in text
    (total,) = [line for line in text.splitlines() if line.startswith("total")]
    assert total.split() == ["total", "3.0"]


def test_fixed_ports_stay_out_of_the_ephemeral_range_and_rays_worker_ports():
    """A fixed port in 32768-60999 can be the local end of any outgoing connection at any moment, and Ray
    refuses to start when one is inside its worker port range (min/max_worker_port: 10002-19999)."""
    from ray.scripts.scripts import start

    from helpers import config

    defaults = {p.name: p.default for p in start.params}
    low, high = defaults["min_worker_port"], defaults["max_worker_port"]
    for port in config.Ports().named(workers=8).values():
        assert port < 32768, port
        assert not low <= port <= high, port


def test_a_head_start_that_gave_up_only_on_rays_30_s_wait_is_waited_for(tmp_path):
    """`ray start --head` exits 1 after its fixed 30 s wait for the raylet while the GCS and the raylet it started
    run on: that is a slow start, not a failed one. Any other exit, or a dead raylet, is a failure."""
    import shutil

    from helpers.backends.local_processes import LocalProcesses

    for name in ("gcs_server", "raylet"):
        shutil.copy(shutil.which("sleep"), tmp_path / name)
    log = tmp_path / "head.log"
    log.write_text("an earlier start: The current node timed out during startup.\n")
    start = log.stat().st_size
    env = {"PATH": "/usr/bin:/bin", procs.MARKER_VAR: "unit-test-head"}
    group = procs.start_detached(
        ["sh", "-c", f"{tmp_path}/gcs_server 60 & {tmp_path}/raylet 60 & wait"], env, tmp_path / "group.log"
    )
    try:
        # Until both children have exec'd, they are still named after the shell that forked them.
        both = lambda: ({"gcs_server", "raylet"} <= procs.group_names(group.pid), "starting")  # noqa: E731
        wait_for("both", both, timeout=10, interval=0.05)
        assert not LocalProcesses.raylet_slow(group.pid, log, start)  # only an earlier start's message
        with open(log, "a") as f:
            f.write("Exception: The current node timed out during startup. This could happen because ...\n")
        assert LocalProcesses.raylet_slow(group.pid, log, start)
        for member in procs.group_members([group.pid]):
            if member.name() == "raylet":
                member.kill()
                member.wait(5)
        assert not LocalProcesses.raylet_slow(group.pid, log, start)  # the raylet died: a real failure
    finally:
        procs.stop_groups([group.pid], marker="unit-test-head", grace=1)


def test_a_proxy_is_found_by_its_title_whatever_its_main_thread_is_called():
    """Ray renames the thread that runs a task, so a proxy's main thread (``proc.name()``) can still be called
    ``ray::IDLE``; its command line says ``ray::ProxyActor`` for every thread. Here ``sleep`` plays one: its
    name is ``sleep``, its command line ``ray::ProxyActor``."""
    from helpers.backends.local_processes import proxies_of

    proc = subprocess.Popen(["bash", "-c", 'exec -a "ray::ProxyActor" sleep 30'], start_new_session=True)
    try:
        found, deadline = [], time.monotonic() + 5
        while not found and time.monotonic() < deadline:
            found = proxies_of([proc.pid])
            time.sleep(0.05)
        assert [p.pid for p in found] == [proc.pid]
        assert found[0].name() == "sleep"
    finally:
        proc.kill()
        proc.wait()
