"""Shared test set-up: every test session keeps its local-backend state in its own folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_configure(config):
    # Subprocesses (papermill kernels, nbval) inherit this, so tests never touch a learner's
    # own .state/ - and their teardown knows exactly what to stop.
    if "RAYSERVICE_TUTORIAL_STATE" not in os.environ:
        os.environ["RAYSERVICE_TUTORIAL_STATE"] = tempfile.mkdtemp(prefix="rst-test-state-")
    # Kernels run by papermill and nbval have no frontend: widgets print plain text instead.
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")


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
