"""What every backend offers, and the errors it raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from helpers.errors import ShownAsMessage
from helpers.manifests import RayServiceManifest


class BackendError(ShownAsMessage, RuntimeError):
    """Something about the cluster is wrong; the message says what and what to do."""


class NotRunningError(BackendError):
    """The cluster (or the RayService) the call needs is not there."""


class KindOnly(BackendError):
    """A step only a real Kubernetes cluster can show; the local backend says so instead of faking it."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(
            f'{what} needs a real Kubernetes cluster: run this lesson with BACKEND = "kind" to see it. '
            "The local backend does not pretend."
        )


class DeployFailedError(BackendError):
    def __init__(self, app: str, message: str):
        self.app = app
        self.serve_message = message
        last = message.strip().splitlines()[-1] if message.strip() else "(no message)"
        super().__init__(
            f"Application {app!r} is DEPLOY_FAILED: {last}\n"
            "Serve keeps the previous version (if any) running. Fix the manifest and apply it again.\n"
            f"Full message from Serve:\n{message.strip()}"
        )


class Backend(Protocol):
    name: str

    def up(self, manifest: RayServiceManifest | str | Path) -> dict[str, Any]: ...
    def apply(self, manifest: RayServiceManifest | str | Path) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def wait_ready(self, timeout: float = 120) -> float: ...
    def urls(self) -> dict[str, str]: ...
    def down(self) -> int: ...
