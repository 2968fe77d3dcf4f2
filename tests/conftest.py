"""Shared test set-up: every test session keeps its local-backend state in its own folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from helpers import config

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


OWN_STATE = pytest.StashKey[Path]()


def pytest_configure(config):
    # Subprocesses (papermill kernels, nbval) inherit this, so tests never touch a learner's
    # own .state/ - and their teardown knows exactly what to stop.
    if "RAYSERVICE_TUTORIAL_STATE" not in os.environ:
        os.environ["RAYSERVICE_TUTORIAL_STATE"] = tempfile.mkdtemp(prefix="rst-test-state-")
        config.stash[OWN_STATE] = Path(os.environ["RAYSERVICE_TUTORIAL_STATE"])
    # Kernels run by papermill and nbval have no frontend: widgets print plain text instead.
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")
    # A workshop's setting in the shell (`export TUTORIAL_BACKEND=host`) must not move the tests: the stored outputs
    # are the local backend's in the default namespace, and a test that wants another backend names it.
    from helpers.config import BACKEND_ENV, NAMESPACE_ENV  # (`config` here is pytest's)

    for name in (BACKEND_ENV, NAMESPACE_ENV):
        os.environ.pop(name, None)


def pytest_unconfigure(config):
    """The session's state folder goes with it, unless a local cluster it started is still up (its state file
    says what to stop: `RAYSERVICE_TUTORIAL_STATE=<folder> python -m helpers down`)."""
    import shutil

    from helpers.backends.local import STATE_FILE

    own = config.stash.get(OWN_STATE, None)
    if own is not None and not (own / STATE_FILE).exists():
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session")
def seed_manifest_text() -> str:
    """The RayService YAML block of the seed article (../shared/seed), read-only input."""
    import re

    article = SHARED / "seed" / "rayservice-online-serving.md"
    if not article.exists():
        pytest.skip(f"{article} is not here (the seed article lives in ../shared/)")
    return re.search(r"```yaml\n(.*?)```", article.read_text(), re.S).group(1)


@pytest.fixture(autouse=True)
def no_stand_in_forward_left_running():
    """A test that starts a stand-in port-forward (tests/fakes.py) stops it: a leftover holds a port (maybe
    a learner's 8265) for ten minutes. Stopped here either way, and the test fails, named."""
    from tests.fakes import STARTED

    yield
    import psutil

    from helpers import procs

    alive = [pid for pid in STARTED if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    STARTED.clear()
    if alive:
        procs.stop_groups(alive, grace=1)
        pytest.fail(f"stand-in port-forwards left running: pids {alive}", pytrace=False)


# -- the host cluster (tests/host/ and the host half of tests/integration/test_backends_alike.py) ---------------
HOST_NAMESPACE = "rst-tests"
HOST_SNAPSHOT = config.BUILD_DIR / "host-tests-machine-before.json"  # read by the session that finds it running
# A machine that cannot run it (not Linux, not root, not built) fails the session under CI (`CI=true`: a missing
# prerequisite is a failure there) and elsewhere skips with the reason, shown in pytest's summary (-rs).


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
    backend = HostBackend(namespace=HOST_NAMESPACE)
    if not backend.running():  # this machine before the cluster: what `down` must give back (test_teardown.py)
        HOST_SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        HOST_SNAPSHOT.write_text(json.dumps(machine_snapshot()))
    backend.up(config.MANIFESTS_DIR / "ray-service.yaml")
    backend.snapshot_before = json.loads(HOST_SNAPSHOT.read_text()) if HOST_SNAPSHOT.exists() else None
    yield backend
    # The cluster stays up when the session ends: `make test` runs two sessions on it (the host half of
    # tests/integration/test_backends_alike.py, then tests/host/, whose test_teardown.py brings it down),
    # then `python -m helpers down --backend host`. The forwards go: the next session starts its own.
    backend.stop_port_forwards()
