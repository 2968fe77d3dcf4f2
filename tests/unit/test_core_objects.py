"""Core Kubernetes objects the tutorial sends, checked against the official client's models.

The ``kubernetes`` client's models know every field of core/v1: an object that does not survive a
round trip through them has a misspelled or misplaced field, which the API server would drop.
"""

from __future__ import annotations

import json

import pytest
from kubernetes.client import ApiClient

from helpers import config
from helpers.backends.kube import KubernetesBackend
from helpers.manifests import load_manifest


def round_trip(obj: dict, model: str) -> dict:
    client = ApiClient()
    return client.sanitize_for_serialization(client.deserialize(json.dumps(obj), model, "application/json"))


def test_app_code_configmap_and_namespace(tmp_path):
    backend = KubernetesBackend(state_dir=tmp_path, namespace="alice")
    configmap = backend.app_code_configmap()
    assert round_trip(configmap, "V1ConfigMap") == configmap
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alice"}}
    assert round_trip(namespace, "V1Namespace") == namespace


@pytest.mark.parametrize("path", sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml")), ids=lambda p: p.name)
def test_pod_templates_are_valid_core_v1(path):
    cluster = load_manifest(path).cluster_config
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        template = group["template"]
        assert round_trip(template, "V1PodTemplateSpec") == template


def test_a_misspelled_field_is_caught():
    template = load_manifest("manifests/ray-service.yaml").cluster_config["headGroupSpec"]["template"]
    template["spec"]["containers"][0]["volumeMount"] = template["spec"]["containers"][0].pop("volumeMounts")
    assert round_trip(template, "V1PodTemplateSpec") != template


def test_kubeapi_without_a_kubeconfig_says_what_to_check(tmp_path, monkeypatch):
    from helpers.backends.kubeapi import KubeAPI
    from helpers.errors import BackendError

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-config"))
    with pytest.raises(BackendError, match="Cannot load the kubeconfig.*kubectl config get-contexts"):
        KubeAPI(context="kind-rayservice-tutorial")
