"""The local backend against a real Ray cluster on 127.0.0.1 (the session's shared cluster; it runs last
and stops it).

It uses its own ports and state folder, so it never touches a learner's running tutorial.
"""

from __future__ import annotations

import copy
import socket
import subprocess
import sys

import pytest
import requests

from helpers import config
from helpers.backends import BackendError, NotRunningError
from tests.integration.conftest import HELLO, MULTI, PORTS, SPARE_PORTS

pytestmark = pytest.mark.integration


def get(backend, path):
    return requests.get(backend.serve_url + path, timeout=10)


@pytest.fixture
def idle(tmp_path):
    """A backend that has not been started (its own state folder and ports; the shared cluster may be up)."""
    from helpers.backends.local import LocalBackend

    return LocalBackend(state_dir=tmp_path, ports=SPARE_PORTS)


def test_a_busy_port_is_named_and_nothing_starts(idle):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", SPARE_PORTS.serve))
        sock.listen()
        with pytest.raises(BackendError) as info:
            idle.up(HELLO)
    message = str(info.value)
    assert f"port {SPARE_PORTS.serve} (Serve HTTP) is in use by" in message and "(pid " in message
    assert idle.our_processes() == []


def test_calls_before_up_say_what_to_do(idle):
    for call in (idle.status, idle.wait_ready, lambda: idle.apply(HELLO)):
        with pytest.raises(NotRunningError, match="notebook 01_cluster"):
            call()


def test_up_starts_head_and_one_worker_node(backend):
    info = backend.up(HELLO)
    assert [w["name"] for w in info["workers"]] == ["workers-1"]
    rows = [line.split()[:3] for line in backend.nodes_table().splitlines()[2:]]
    assert rows == [["head", "head", "1"], ["workers-1", "workers", "1"]]
    assert "head pod" in backend.nodes_table() and "worker pod (group workers)" in backend.nodes_table()


def test_second_up_reuses_the_cluster(backend, capsys):
    before = backend.describe()["head"]["pgid"]
    backend.up(HELLO)
    assert backend.describe()["head"]["pgid"] == before
    assert "Reusing the local Ray cluster" in capsys.readouterr().out


def test_status_with_nothing_applied_says_so(backend):
    if backend.describe().get("service"):  # applied by an earlier module on the shared cluster
        backend.delete_service()
    with pytest.raises(NotRunningError, match="no RayService has been applied yet"):
        backend.status()


def test_apply_wait_and_first_request(backend):
    backend.apply(HELLO)
    backend.wait_ready(timeout=120)
    status = backend.status()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "NonZeroServeEndpoints")
    hello = status["activeServiceStatus"]["applicationStatuses"]["hello"]
    assert hello["status"] == "RUNNING"
    assert hello["serveDeploymentStatuses"]["Hello"]["replicaStates"] == {"RUNNING": 2}
    reply = get(backend, "/hello")
    assert reply.status_code == 200
    assert reply.json()["message"] == "Hello from RayService!" and reply.json()["version"] == "v1"


def test_every_listener_is_on_loopback(backend):
    listeners = backend.listeners()
    assert len(backend.metrics_urls()) == 2
    ports = {port for _, port, _ in listeners}
    assert {PORTS.serve, PORTS.dashboard, PORTS.gcs, PORTS.metrics} <= ports
    assert backend.listening_addresses() == ["127.0.0.1"], listeners


def test_the_token_is_private_and_set_on_every_ray_process(backend):
    """The manifest's authOptions {mode: token}: Ray's token authentication on every Ray process (what the
    dashboard then asks for is tested on both backends in test_backends_alike.py)."""
    import stat

    assert stat.S_IMODE(backend.token_file.stat().st_mode) == 0o600
    head = next(p for p in backend.our_processes() if "gcs_server" in p.name())
    assert head.environ().get("RAY_AUTH_MODE") == "token" and "RAY_AUTH_TOKEN" not in head.environ()
    assert get(backend, "/hello").status_code == 200  # Serve's HTTP port is for clients: no token


def test_routing_three_apps(backend, capsys):
    backend.apply(MULTI)
    backend.wait_ready(timeout=120)
    capsys.readouterr()
    # The status board, headless: a plain-text table of the same status.
    from helpers.board import StatusBoard

    board = StatusBoard(backend, live=False).show()
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == "RayService ray-serve-app: Ready=True (NonZeroServeEndpoints)"
    for app in ("hello", "predict-a", "predict-b"):
        assert f"\n{app} " in printed
    assert "workers-1  workers  1" in printed
    assert "prefix" not in board.text().splitlines()[0]
    assert get(backend, "/predict-a?x=4").json()["prediction"] == 9.0
    assert get(backend, "/predict-b?x=4").json()["prediction"] == 11.0
    assert get(backend, "/hello").status_code == 200
    assert get(backend, "/predict-c").status_code == 404


def test_serve_metrics_count_the_requests(backend):
    import time

    from helpers import metrics

    urls = backend.metrics_urls()
    before = metrics.snapshot(urls, 0)
    for _ in range(20):
        assert get(backend, "/predict-a?x=2").status_code == 200
    deadline = time.monotonic() + 30
    counted = 0.0
    while time.monotonic() < deadline:
        after = metrics.snapshot(urls, 1)
        counted = after.counters.get(metrics.REQUESTS, 0) - before.counters.get(metrics.REQUESTS, 0)
        if counted >= 20:
            break
        time.sleep(1)
    assert counted >= 20
    assert after.buckets and metrics.percentile(after.buckets, 50) is not None


def test_cluster_shape_change_is_refused_without_changing_anything(backend):
    raw = copy.deepcopy(MULTI.raw)
    raw["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"] = "others"
    from helpers.manifests import validate

    with pytest.raises(BackendError, match="Nothing was changed"):
        backend.apply(validate(raw))
    assert get(backend, "/predict-a?x=4").json()["prediction"] == 9.0


def test_a_replicas_only_change_is_applied_and_keeps_the_nodes_as_kuberay_does(backend, capsys):
    """KubeRay leaves a running RayCluster as it is when only worker replica counts change (the host cluster showed
    it: tests/host/test_kuberay_behaviour.py); the rest of the manifest is applied."""
    raw = copy.deepcopy(MULTI.raw)
    raw["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(replicas=2, maxReplicas=2)
    from helpers.manifests import validate

    nodes = len(backend._state()["workers"])
    backend.apply(validate(raw))
    assert "Only worker replica counts differ from the running cluster" in capsys.readouterr().out
    assert len(backend._state()["workers"]) == nodes
    backend.apply(MULTI)
    backend.wait_ready(timeout=120)
    assert get(backend, "/predict-a?x=4").json()["prediction"] == 9.0


def test_kuberays_cluster_upgrade_is_kind_only(backend):
    """The faults and their healing run on both backends in test_backends_alike.py; this one cannot."""
    from helpers.backends import KindOnly

    with pytest.raises(KindOnly, match="needs a real Kubernetes cluster"):
        backend.upgrade_cluster(MULTI, "2")


def test_zz_down_leaves_no_process_and_no_port(backend):
    assert backend.our_processes()
    assert backend.down() > 0
    assert backend.our_processes() == []
    for port in PORTS.named(1).values():
        assert backend_port_free(port), port
    assert backend.down() == 0  # idempotent


def backend_port_free(port: int) -> bool:
    from helpers import procs

    return procs.port_holder(port) is None


def test_cli_down_with_nothing_running(tmp_path):
    env = {"RAYSERVICE_TUTORIAL_STATE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "down"], env=env, capture_output=True, text=True, cwd=config.PROJECT_ROOT
    )
    assert out.returncode == 0 and "Nothing was running." in out.stdout
