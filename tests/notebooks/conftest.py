"""The notebook tests share one local cluster where a learner would: the status board's cluster (lesson 06's
shape) is the one the labs then reuse, as a learner's labs reuse the lessons' cluster. Whatever is still up
when the session ends is stopped here."""

from __future__ import annotations

import pytest

from helpers.backends.local import LocalBackend


@pytest.fixture(scope="session", autouse=True)
def stop_the_cluster_when_the_session_ends():
    yield
    LocalBackend().down(quiet=True)
