"""Errors the helpers understand are shown as their message, not as a traceback through the helpers.

IPython (JupyterLab, papermill, nbval) asks an exception for ``_render_traceback_()`` before it formats a
traceback; these errors answer with their own message, which already says what is wrong and what to do.
Outside IPython they are ordinary exceptions with the same message.
"""

from __future__ import annotations

RED, RESET = "\x1b[31m", "\x1b[0m"


class ShownAsMessage:
    """Mixin for the project's exceptions: a notebook shows ``Name: message`` and nothing else."""

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"{RED}{type(self).__name__}{RESET}: {lines[0]}", *lines[1:]]


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


class ClusterError(ShownAsMessage, RuntimeError):
    """The host backend: a component of the cluster did not start; the message names it and shows its log's end."""


__all__ = ["BackendError", "ClusterError", "DeployFailedError", "KindOnly", "NotRunningError", "ShownAsMessage"]
