"""One real local Ray cluster per test module, on its own ports and state folder (never a learner's)."""

from __future__ import annotations

import pytest

from helpers import config
from helpers.backends.local import LocalBackend
from helpers.manifests import load_manifest

PORTS = config.Ports(serve=28000, dashboard=28265, gcs=26379, metrics=28080, client=20001, agent=22400)
HELLO = load_manifest("manifests/ray-service.yaml")
MULTI = load_manifest("manifests/ray-service-multi.yaml")


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    b = LocalBackend(state_dir=tmp_path_factory.mktemp("state"), ports=PORTS)
    yield b
    b.down(quiet=True)


@pytest.fixture(scope="module")
def serving(backend):
    """The cluster up with hello applied and Ready."""
    backend.up(HELLO)
    backend.apply(HELLO)
    backend.wait_ready(timeout=120)
    return backend
