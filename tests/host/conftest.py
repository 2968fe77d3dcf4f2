"""The host cluster for the tests in this folder: the session fixture ``host_backend`` of tests/conftest.py (started
once, in the namespace below), brought down by test_teardown.py, which runs last."""

from __future__ import annotations

from tests.conftest import HOST_NAMESPACE as NAMESPACE  # noqa: F401 - the tests here import it from this module
