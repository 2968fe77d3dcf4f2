"""The played cluster (tests/kuberay_fake/) held to what KubeRay did on the host cluster.

The same operations (tests/kuberay_recorded.py: apply, an in-place serveConfigV2 change, a rayClusterConfig
change, a worker pod deleted, the head pod deleted, the RayService deleted; without and with GCS fault tolerance)
run through the kubernetes backend on the fake, looked at through the same API calls as on the host cluster
(``python -m tests.host.record_kuberay``), and each facet's sequence must be the one recorded there.
"""

from __future__ import annotations

import inspect

import pytest

from helpers import config
from helpers.backends.kubeapi import KubeAPI

from .. import kuberay_recorded
from ..kuberay_fake import KubeRayTimeline
from ..kuberay_fake.backend import backend_on

MANIFESTS = {"without_gcs_ft": "ray-service.yaml", "with_gcs_ft": "ray-service-ha.yaml"}


def played(tmp_path, monkeypatch, manifest: str, kuberay: str) -> dict[str, dict]:
    """The operations on the fake, playing the KubeRay version ``kuberay`` (v1.7.0 added the RayService's
    finalizer)."""
    major, minor = (int(x) for x in kuberay.lstrip("v").split(".")[:2])
    kube = KubeRayTimeline(rayservice_finalizer=(major, minor) >= (1, 7))
    backend = backend_on(kube, tmp_path, monkeypatch)
    return kuberay_recorded.operations(
        backend, config.MANIFESTS_DIR / manifest, sleep=lambda s: kube.advance(s, s), clock=kube.clock
    )


@pytest.fixture(scope="module")
def recording():
    return kuberay_recorded.load()


@pytest.mark.parametrize("case", MANIFESTS)
def test_the_played_cluster_does_what_kuberay_did_on_the_host_cluster(tmp_path, monkeypatch, recording, case):
    seen = played(tmp_path, monkeypatch, MANIFESTS[case], recording["versions"]["kuberay"])
    wrong = [
        f"{operation} {facet}: host {recording[case][operation][facet]}, played {seen[operation][facet]}"
        for operation in recording[case]
        for facet in kuberay_recorded.FACETS
        if seen[operation][facet] != recording[case][operation][facet]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_fake_takes_what_kubeapi_takes():
    """Each method the fake shares with KubeAPI has its parameters (names, kinds, defaults): a backend call
    that works on the fake works on the real client."""

    def parameters(function):
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    shared = [
        name
        for name, _ in inspect.getmembers(KubeAPI, inspect.isfunction)
        if not name.startswith("_") and hasattr(KubeRayTimeline, name)
    ]
    assert len(shared) >= 15, shared
    wrong = [n for n in shared if parameters(getattr(KubeRayTimeline, n)) != parameters(getattr(KubeAPI, n))]
    assert not wrong, wrong
