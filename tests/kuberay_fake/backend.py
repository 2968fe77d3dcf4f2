"""The kubernetes backend on the fake: its waits sleep on the fake clock, kubectl runs against the fake, and Serve's
API answers from it (every application RUNNING once the active cluster's head serves them)."""

from __future__ import annotations

import types
from pathlib import Path

from helpers import progress
from helpers.backends.kube import KubernetesBackend
from helpers.serve_api import ServeAPIError

from ..fakes import FakeCommands
from .timeline import KubeRayTimeline


class TimelineServe:
    def __init__(self, kube: KubeRayTimeline, backend: KubernetesBackend):
        self.kube, self.backend = kube, backend

    def details(self) -> dict:
        cluster = self.kube.clusters.get(self.backend.cluster_names()[0])
        if cluster is None or not self.kube._apps_running(cluster):
            raise ServeAPIError("Connection refused")
        return {"applications": {app: {"status": "RUNNING"} for app in cluster.apps}}


def backend_on(kube: KubeRayTimeline, state_dir: Path, monkeypatch) -> KubernetesBackend:
    """A KubernetesBackend whose namespace is prepared on ``kube`` (tests start their own forwards)."""
    monkeypatch.setattr(
        progress, "time", types.SimpleNamespace(sleep=kube.advance, monotonic=kube.clock, time=kube.clock)
    )
    backend = KubernetesBackend(
        state_dir=state_dir, commands=FakeCommands(responses={("kubectl",): kube.kubectl}), kube=kube
    )
    monkeypatch.setattr(backend, "ensure_port_forwards", lambda: None)
    backend.serve = TimelineServe(kube, backend)
    backend._prepare_namespace()
    return backend
