"""One real local Ray cluster for the whole session, on its own ports and state folder (never a learner's).

Starting a cluster costs most of a minute on a 2-core machine, so the modules share one: `backend` is it (up
or not), `serving` brings it up with hello applied and Ready (reusing what is there). Tests that need a cluster
of their own (a start that fails, Ctrl-C in a start) use SPARE_PORTS and their own state folder.
"""

from __future__ import annotations

import pytest

from helpers import config
from helpers.backends.local import LocalBackend
from helpers.manifests import load_manifest

PORTS = config.Ports(serve=28000, dashboard=28265, gcs=26379, metrics=28080, client=20001, agent=22400)
SPARE_PORTS = config.Ports(serve=29000, dashboard=29265, gcs=27379, metrics=29080, client=20101, agent=22500)
HELLO = load_manifest("manifests/ray-service.yaml")
MULTI = load_manifest("manifests/ray-service-multi.yaml")


@pytest.fixture(scope="session")
def backend(tmp_path_factory):
    b = LocalBackend(state_dir=tmp_path_factory.mktemp("state"), ports=PORTS)
    yield b
    b.down(quiet=True)


@pytest.fixture(scope="module")
def serving(backend):
    """The shared cluster up (started or reused) with hello applied and Ready."""
    backend.up(HELLO)
    backend.apply(HELLO)
    backend.wait_ready(timeout=120)
    return backend
