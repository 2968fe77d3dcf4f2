"""Every RayService in manifests/ against the KubeRay v1.7.0 CRD schema.

The schema comes from the committed structural extract (helpers/data/kuberay-v1.7.0/), so these tests run
in any clone and never skip. Where KubeRay's CRD file is next to the repo (../shared/kuberay-v1.7.0/),
the extract must be exactly what the generator makes of it.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from helpers import config, crd_schema

from ..conftest import SHARED

CRD = SHARED / "kuberay-v1.7.0" / "ray.io_rayservices.yaml"
MANIFESTS = sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml"))


@pytest.fixture(scope="module")
def schema():
    return crd_schema.load_extract()


def test_the_extract_is_what_the_generator_makes_of_kuberays_crd():
    if not CRD.exists():
        if os.environ.get("CI") and SHARED.exists():
            pytest.fail(f"{SHARED} is here but {CRD} is not: the extract cannot be checked")
        pytest.skip(f"KubeRay's CRD file is not at {CRD}; the committed extract is used as it is")
    committed = json.loads(crd_schema.EXTRACT.read_text())
    assert committed == crd_schema.extract(CRD), "regenerate it: python -m helpers.crd_schema"


def test_the_extract_keeps_facts_not_prose(schema):
    text = crd_schema.EXTRACT.read_text()
    assert '"description":"' not in text  # no prose left
    spec = schema["properties"]["spec"]["properties"]
    assert spec["serveConfigV2"]["type"] == "string"
    # The RayService's upgradeStrategy.type is checked by the operator, not the schema; the RayCluster's is an enum.
    assert spec["upgradeStrategy"]["properties"]["type"] == {"type": "string"}
    cluster = spec["rayClusterConfig"]["properties"]
    assert cluster["upgradeStrategy"]["properties"]["type"]["enum"] == ["Recreate", "None"]
    workers = spec["rayClusterConfig"]["properties"]["workerGroupSpecs"]["items"]
    assert {"minReplicas", "maxReplicas", "groupName"} <= set(workers["required"])
    assert workers["properties"]["minReplicas"]["default"] == 0
    assert (crd_schema.EXTRACT.parent / "NOTICE").read_text().count("Apache License") >= 1


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


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"ready": False, "generation": 2, "observed": 1},
        {"pending": "ray-serve-app-fghij"},
        {"app_status": "DEPLOY_FAILED", "message": "ModuleNotFoundError: no module named 'x'"},
        {"active": None, "ready": False},
    ],
    ids=repr,
)
def test_the_fake_operators_status_fits_kuberays_status_schema(schema, variant):
    """The fake API answers with RayService objects whose status KubeRay's schema accepts (conditions need
    lastTransitionTime, app statuses their enum...), so tests built on it read what KubeRay writes."""
    from ..fakes import rayservice

    obj = rayservice(**variant)
    status_schema = schema["properties"]["status"]
    assert crd_schema.problems(obj["status"], status_schema) == []


# -- GCS fault tolerance (manifests/ray-service-ha.yaml) --------------------------------------------------------

HA = config.MANIFESTS_DIR / "ray-service-ha.yaml"


def test_the_ha_manifest_sets_gcs_fault_tolerance_from_the_secret(schema):
    manifest = yaml.safe_load(HA.read_text())
    options = manifest["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]
    assert options["redisAddress"] == "redis:6379"
    assert options["redisPassword"] == {"valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "password"}}}
    assert crd_schema.problems(manifest, schema) == []


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"backend": "mysql"}, "gcsFaultToleranceOptions.backend: 'mysql' is not one of ['redis', 'rocksdb']"),
        ({"redisPassword": "x"}, "gcsFaultToleranceOptions.redisPassword: 'x' is not of type 'object'"),
        ({"redisAddress": 6379}, "gcsFaultToleranceOptions.redisAddress: 6379 is not of type 'string'"),
        (
            {"redisPassword": {"valueFrom": {"secretKeyRef": {"name": "redis-password"}}}},
            "secretKeyRef: 'key' is a required property",
        ),
        ({"storage": {"deletionPolicy": "Keep"}}, "deletionPolicy: 'Keep' is not one of"),
    ],
    ids=["backend-mysql", "password-as-string", "address-as-number", "secret-ref-without-key", "bad-deletion-policy"],
)
def test_a_broken_gcs_fault_tolerance_block_fails(schema, options, expected):
    manifest = yaml.safe_load(HA.read_text())
    manifest["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"].update(options)
    found = crd_schema.problems(manifest, schema)
    assert any(expected in p for p in found), found
