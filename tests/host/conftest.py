"""The host cluster for the tests in this folder: started once per session, removed at its end.

A machine that cannot run it (not Linux, not root, not built) fails the session under CI (`CI=true`: a missing
prerequisite is a failure there) and elsewhere skips with the reason, shown in pytest's summary (-rs).
"""

from __future__ import annotations

import os

import pytest

from helpers import config

NAMESPACE = "rst-tests"


def machine_snapshot() -> dict:
    """What the host backend may change on this machine, read before it starts (compared after `down`)."""
    from helpers.host import cluster, network

    return {
        "sysctls": network.read_sysctls(),
        "links": sorted(link["ifname"] for link in network.links()),
        "nft": cluster.nft_tables(),
        "mounts": cluster.our_mounts(),
    }


@pytest.fixture(scope="session")
def host_backend():
    from helpers import preflight
    from helpers.backends.host import HostBackend
    from helpers.host.preflight import host_checks

    failed = [c for c in host_checks() if not c.ok]
    if failed:
        report = "the host cluster cannot run here:\n" + preflight.report(failed)
        if os.environ.get("CI") == "true":
            pytest.fail(report, pytrace=False)
        pytest.skip(report)
    before = machine_snapshot()
    backend = HostBackend(namespace=NAMESPACE)
    backend.up(config.MANIFESTS_DIR / "ray-service.yaml")
    backend.snapshot_before = before
    yield backend
    backend.down(quiet=True)
