"""Backends: where the RayService runs. ``get_backend("local")`` is the default."""

from __future__ import annotations

from helpers import config
from helpers.backends.base import Backend
from helpers.errors import BackendError, DeployFailedError, KindOnly, NotRunningError


def get_backend(name: str = config.DEFAULT_BACKEND, **kwargs) -> Backend:
    """The backend called ``name`` (see helpers.config.BACKENDS)."""
    key = str(name).strip().lower()
    if key == "local":
        from helpers.backends.local import LocalBackend

        # One local cluster per machine: the namespace only names the kubectl commands the lessons show.
        return LocalBackend(**kwargs)
    if key == "kind":
        from helpers.backends.kind import KindBackend

        return KindBackend(**kwargs)
    if key == "host":
        from helpers.backends.host import HostBackend

        return HostBackend(**kwargs)
    if key == "kubernetes":
        from helpers.backends.kube import KubernetesBackend

        return KubernetesBackend(**kwargs)
    raise BackendError(
        f"Unknown backend {name!r}: set BACKEND to one of {', '.join(repr(b) for b in config.BACKENDS)}."
    )


__all__ = ["Backend", "BackendError", "DeployFailedError", "KindOnly", "NotRunningError", "get_backend"]
