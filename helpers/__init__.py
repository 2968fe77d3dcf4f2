"""Helpers for the RayService tutorial: manifests, backends, the Serve API, status and progress."""

from helpers import i18n
from helpers.backends import BackendError, DeployFailedError, NotRunningError, get_backend
from helpers.config import KUBERAY_VERSION, RAY_VERSION
from helpers.manifests import ManifestError, load_manifest

i18n.use_english_folder()  # a Korean notebook (notebooks/ko/, labs/ko/) runs its code where the English one does

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
