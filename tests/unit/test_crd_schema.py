"""Every RayService in manifests/ against the KubeRay v1.7.0 CRD schema (../shared/kuberay-v1.7.0)."""

from __future__ import annotations

import copy

import pytest
import yaml

from helpers import config, crd_schema

from ..conftest import SHARED

CRD = SHARED / "kuberay-v1.7.0" / "ray.io_rayservices.yaml"
pytestmark = pytest.mark.skipif(
    not CRD.exists(), reason=f"the KubeRay v1.7.0 CRDs are not at {CRD} (they live in ../shared/)"
)
MANIFESTS = sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml"))


@pytest.fixture(scope="module")
def schema():
    return crd_schema.load_schema(CRD)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_for_kuberay_1_7(schema, path):
    assert crd_schema.problems(yaml.safe_load(path.read_text()), schema) == []


def test_defaults_are_applied_before_validation(schema):
    manifest = yaml.safe_load(MANIFESTS[0].read_text())
    group = manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    del group["minReplicas"], group["maxReplicas"]
    # A naive check rejects this valid manifest; the API server (and we) default first.
    naive = list(__import__("jsonschema").Draft7Validator(schema).iter_errors(manifest))
    assert any("minReplicas" in e.message for e in naive)
    assert crd_schema.problems(manifest, schema) == []
    filled = crd_schema.apply_defaults(manifest, schema)
    assert filled["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["minReplicas"] == 0


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda m: m["spec"].update(serveConfigV2={"applications": []}), "spec.serveConfigV2"),
        (lambda m: m["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(replicas="two"), "replicas"),
        (lambda m: m["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].pop("groupName"), "groupName"),
        (lambda m: m["spec"]["rayClusterConfig"]["headGroupSpec"].pop("template"), "headGroupSpec"),
    ],
)
def test_a_broken_manifest_fails(schema, break_it, expected):
    manifest = copy.deepcopy(yaml.safe_load(MANIFESTS[0].read_text()))
    break_it(manifest)
    found = crd_schema.problems(manifest, schema)
    assert any(expected in p for p in found), found
