"""Helpers for the RayService tutorial: manifests, backends, the Serve API, status and progress."""

from helpers.backends import BackendError, DeployFailedError, NotRunningError, get_backend
from helpers.config import KUBERAY_VERSION, RAY_VERSION
from helpers.manifests import ManifestError, load_manifest

__all__ = [
    "KUBERAY_VERSION",
    "RAY_VERSION",
    "BackendError",
    "DeployFailedError",
    "ManifestError",
    "NotRunningError",
    "get_backend",
    "load_manifest",
]
