import copy
import re
from pathlib import Path

import pytest
import yaml

from helpers import config
from helpers.manifests import ManifestError, load_manifest, validate, with_serve_config

MANIFESTS = sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml"))


def problems(text_or_obj) -> list[str]:
    with pytest.raises(ManifestError) as info:
        if isinstance(text_or_obj, str):
            load_manifest(text_or_obj)
        else:
            validate(text_or_obj)
    return info.value.problems


def good() -> dict:
    return yaml.safe_load((config.MANIFESTS_DIR / "ray-service.yaml").read_text())


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_project_manifest_is_valid(path: Path):
    manifest = load_manifest(path)
    assert manifest.name == "ray-serve-app"
    assert isinstance(manifest.raw["spec"]["serveConfigV2"], str)
    assert "/hello" in manifest.routes


def test_hello_manifest_matches_the_issue():
    manifest = load_manifest("manifests/ray-service.yaml")
    assert manifest.raw["apiVersion"] == "ray.io/v1"
    assert manifest.routes == {"/hello": "hello"}
    (app,) = manifest.applications
    assert app["deployments"][0]["num_replicas"] == 2
    assert [g.replicas for g in manifest.worker_groups] == [1]
    assert "AWS" not in (config.MANIFESTS_DIR / "ray-service.yaml").read_text()


def test_multi_app_manifest_routes_two_models():
    manifest = load_manifest("manifests/ray-service-multi.yaml")
    assert manifest.routes == {"/hello": "hello", "/predict-a": "predict-a", "/predict-b": "predict-b"}
    # Same cluster as ray-service.yaml: applying it after that one is an in-place update.
    assert manifest.cluster_config == load_manifest("manifests/ray-service.yaml").cluster_config


def test_image_tags_and_ray_version_match_the_pin():
    for path in MANIFESTS:
        text = path.read_text()
        manifest = load_manifest(path)
        assert manifest.cluster_config["rayVersion"] == config.RAY_VERSION
        assert text.count(config.RAY_IMAGE) == 2, path.name


def test_seed_manifest_fails_with_every_mistake_named(seed_manifest_text):
    found = problems(seed_manifest_text)
    text = "\n".join(found)
    assert any("serveConfigV2 is an object" in p and "serveConfigV2: |" in p for p in found)
    for rename in ("routePrefix -> route_prefix", "importPath -> import_path", "numReplicas -> num_replicas"):
        assert rename in text
    creds = [p for p in found if p.startswith("credentials written inline")]
    assert creds and "AWS_ACCESS_KEY_ID" in creds[0] and "secretKeyRef" in creds[0]
    assert any("ray.io/v1alpha1" in p and "ray.io/v1" in p for p in found)
    # The suggested fix never repeats the secrets.
    assert "your-secret-key" not in text


def test_camel_case_inside_a_string_is_named():
    raw = good()
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace("route_prefix", "routePrefix")
    found = problems(raw)
    assert any("camelCase" in p and "routePrefix -> route_prefix" in p for p in found)


def test_serve_schema_errors_come_from_ray():
    raw = good()
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace("num_replicas: 2", "num_replicas: -3")
    (problem,) = problems(raw)
    assert "num_replicas" in problem and "greater than 0" in problem and "ServeDeploySchema" in problem


def test_missing_import_path_is_reported():
    raw = good()
    raw["spec"]["serveConfigV2"] = re.sub(r"\n *import_path: hello_app:app", "", raw["spec"]["serveConfigV2"])
    assert any("import_path" in p and "Field required" in p for p in problems(raw))


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.update(kind="RayCluster"), "write kind: RayService"),
        (lambda r: r["metadata"].update(name="x" * 48), "at most 47"),
        (lambda r: r["spec"].pop("serveConfigV2"), "serveConfigV2 is missing"),
        (lambda r: r["spec"].update(serveConfigV2=42), "serveConfigV2 is a int"),
        (lambda r: r["spec"].update(serveConfigV2="applications: [\n"), "not valid YAML"),
        (lambda r: r["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(minReplicas=-1), "is -1, below 0"),
        (lambda r: r["spec"].pop("rayClusterConfig"), "spec.rayClusterConfig: is missing"),
    ],
)
def test_bad_input_gets_a_specific_message(mutate, expected):
    raw = good()
    mutate(raw)
    assert any(expected in p for p in problems(raw)), problems(raw)


def test_duplicate_route_prefix():
    raw = yaml.safe_load((config.MANIFESTS_DIR / "ray-service-multi.yaml").read_text())
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace("/predict-b", "/predict-a")
    assert any("share route_prefix '/predict-a'" in p for p in problems(raw))


def test_inline_credentials_in_pod_env():
    raw = good()
    container = raw["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"})
    assert any("secretKeyRef" in p and "AWS_SECRET_ACCESS_KEY" in p for p in problems(raw))
    # A reference to a Secret is the right way, and passes.
    container["env"][-1] = {
        "name": "AWS_SECRET_ACCESS_KEY",
        "valueFrom": {"secretKeyRef": {"name": "aws", "key": "secret"}},
    }
    validate(raw)


def test_yaml_syntax_error_names_the_line():
    found = problems("apiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: x\n")
    assert found[0].startswith("YAML syntax error at line")


def test_missing_file():
    assert "file not found" in problems("manifests/nope.yaml")[0]


def test_with_serve_config_returns_a_validated_copy():
    manifest = load_manifest("manifests/ray-service.yaml")
    new_config = copy.deepcopy(manifest.serve_config)
    new_config["applications"][0]["deployments"][0]["user_config"] = {"greeting": "Hi"}
    changed = with_serve_config(manifest, new_config)
    assert "greeting: Hi" in changed.raw["spec"]["serveConfigV2"]
    assert manifest.serve_config["applications"][0]["deployments"][0]["user_config"] == {"greeting": "Hello"}
    new_config["applications"][0]["route_prefix"] = 5
    with pytest.raises(ManifestError):
        with_serve_config(manifest, new_config)


@pytest.mark.parametrize(
    "options, mode",
    [
        (None, "disabled"),
        ({}, "disabled"),
        ({"mode": "disabled"}, "disabled"),
        ({"mode": "token"}, "token"),
        ({"secretName": "my-token"}, "disabled"),
        ({"mode": "token", "secretName": "my-token"}, "token"),
    ],
)
def test_auth_is_on_only_for_mode_token_as_kuberay_reads_it(options, mode):
    """KubeRay v1.7.0 enables Ray's token auth only for authOptions.mode == token; authOptions: {} makes a
    Secret but sets no auth env vars."""
    raw = yaml.safe_load((config.MANIFESTS_DIR / "ray-service.yaml").read_text())
    raw["spec"]["rayClusterConfig"].pop("authOptions", None)
    if options is not None:
        raw["spec"]["rayClusterConfig"]["authOptions"] = options
    assert validate(raw).auth_mode == mode
