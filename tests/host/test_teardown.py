"""Last in the session (pytest runs the files in name order): `down` leaves nothing of the host cluster."""

from __future__ import annotations

import json
import urllib.request

import psutil
import pytest

from helpers.host import cluster, components, network
from tests.conftest import machine_snapshot


def test_down_leaves_nothing_and_a_second_down_is_a_no_op(host_backend):
    host_backend.down(quiet=True)
    assert cluster.leftovers() == []
    after = machine_snapshot()
    assert host_backend.snapshot_before is not None, "the cluster was up before the tests, from no recorded state"
    assert json.loads(json.dumps(after)) == host_backend.snapshot_before  # as recorded (tuples as lists)
    assert cluster.stop(quiet=True) == []
    ports = {port for _, port in components.PORTS.values()}
    listening = {c.laddr.port for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN}
    assert not ports & listening
    assert host_backend.leftovers() == []
    with pytest.raises(OSError):
        urllib.request.urlopen(f"https://{network.NODE_IP}:6443/readyz", timeout=2)
