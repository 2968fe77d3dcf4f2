"""The rules that come from the schemas the manifest must pass, in detail: KubeRay's CRD schema as the API
server applies it, the nested configs Ray Serve validates only at deploy time, and each check of KubeRay's
utils/validation.go (v1.7.0), each with a manifest it refuses (and the fix) and one it lets through."""

from __future__ import annotations

import pytest
import yaml

from helpers import config, lint

GOOD = yaml.safe_load((config.MANIFESTS_DIR / "ray-service.yaml").read_text())


def good():
    return yaml.safe_load(yaml.safe_dump(GOOD))


def cluster(raw):
    return raw["spec"]["rayClusterConfig"]


def worker(raw):
    return cluster(raw)["workerGroupSpecs"][0]


def head(raw):
    return cluster(raw)["headGroupSpec"]["template"]["spec"]["containers"][0]


def autoscaling(raw):
    cluster(raw)["enableInTreeAutoscaling"] = True
    return raw


def serve(raw, old, new):
    assert old in raw["spec"]["serveConfigV2"], old
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace(old, new)
    return raw


def the_finding(raw):
    (finding,) = lint.lint(raw)
    return finding


# -- crd-schema: the API server's verdict ------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, words",
    [
        (
            lambda r: cluster(r).update(enableInTreeAutoscaling="yes"),
            ["enableInTreeAutoscaling: is 'yes'", "true or false"],
        ),
        (lambda r: head(r)["resources"]["limits"].update(cpu="one"), ["limits.cpu: is one", "Kubernetes quantity"]),
        (lambda r: head(r)["resources"]["limits"].update(cpu=True), ["limits.cpu: is true", "a quantity"]),
        (lambda r: worker(r).pop("groupName"), ["workerGroupSpecs[0].groupName: is missing", "write groupName:"]),
        (lambda r: worker(r)["template"]["spec"].pop("containers"), ["template.spec.containers: is missing"]),
        (
            lambda r: cluster(r).update(gcsFaultToleranceOptions={"backend": "Redis", "redisAddress": "redis:6379"}),
            ["backend: is Redis, not one of redis, rocksdb", "write backend: redis"],
        ),
        (lambda r: r["spec"].pop("rayClusterConfig"), ["spec.rayClusterConfig: is missing"]),
        (lambda r: r["spec"].update(rayClusterDeletionDelaySeconds=-1), ["DeletionDelaySeconds: is -1", ">= 0"]),
    ],
    ids=["boolean", "quantity", "quantity-type", "required", "containers", "enum", "rayClusterConfig", "minimum"],
)
def test_crd_schema_says_where_and_what_to_write(mutate, words):
    raw = good()
    mutate(raw)
    finding = the_finding(raw)
    assert (finding.rule, finding.severity) == ("crd-schema", "error")
    for word in words:
        assert word in finding.message, (word, finding.message)


def test_crd_schema_fills_the_defaults_first_as_the_api_server_does():
    raw = good()
    for key in ("minReplicas", "maxReplicas"):  # required by the CRD, but defaulted: the API server accepts it
        worker(raw).pop(key)
    worker(raw)["replicas"] = 1
    assert [f.rule for f in lint.lint(raw)] == []


def test_a_misspelt_required_field_is_one_finding_naming_the_field_meant():
    raw = good()
    cluster(raw)["headGroupSpecs"] = cluster(raw).pop("headGroupSpec")
    assert [f.rule for f in lint.lint(raw)] == ["crd-unknown-fields"]


# -- serve-schema: Serve's deploy-time models --------------------------------------------------------


def test_autoscaling_config_is_checked_with_serves_autoscaling_config_before_apply():
    raw = serve(good(), "num_replicas: 2", "autoscaling_config: {min_replicas: 3, max_replicas: 1}")
    finding = the_finding(raw)
    assert finding.rule == "serve-schema"
    assert "deployments[0].autoscaling_config" in finding.message
    assert "max_replicas (1) must be greater than or equal to min_replicas (3)" in finding.message
    assert "AutoscalingConfig, which Serve checks only when it deploys" in finding.message


def test_a_sound_autoscaling_config_passes():
    raw = serve(good(), "num_replicas: 2", "autoscaling_config: {min_replicas: 1, max_replicas: 2}")
    assert lint.lint(raw) == []


def test_ray_actor_options_are_checked_with_serves_model():
    finding = the_finding(serve(good(), "num_cpus: 0.2", "num_cpus: -1"))
    assert finding.rule == "serve-schema" and "ray_actor_options.num_cpus" in finding.message


# -- KubeRay's validation.go: each check refused, and its neighbour let through ----------------------

KUBERAY = [
    # rule, how to break the good manifest, words, how to make it right again
    ("worker-replicas", lambda r: worker(r).update(minReplicas=-1), ["minReplicas: is -1, below 0"], None),
    (
        "group-resources",
        lambda r: cluster(r)["headGroupSpec"].update(rayStartParams={"num-cpus": "1"}, resources={"cpu": "1"}),
        ["headGroupSpec: sets rayStartParams num-cpus"],
        lambda r: cluster(r)["headGroupSpec"].update(rayStartParams={}),
    ),
    (
        "group-labels",
        lambda r: worker(r)["rayStartParams"].update(labels="zone=a"),
        ["rayStartParams.labels: is not supported", "write labels: {key: value}"],
        lambda r: [worker(r)["rayStartParams"].pop("labels"), worker(r).update(labels={"ray.io/zone": "a"})],
    ),
    ("group-labels", lambda r: worker(r).update(labels={"bad key!": "a"}), ["key 'bad key!' is not a valid"], None),
    (
        "gcs-settings",
        lambda r: [
            cluster(r).update(gcsFaultToleranceOptions={"redisAddress": "redis:6379"}),
            r["metadata"].update(annotations={"ray.io/ft-enabled": "true"}),
        ],
        ["sets ray.io/ft-enabled next to gcsFaultToleranceOptions"],
        lambda r: r["metadata"].pop("annotations"),
    ),
    (
        "gcs-settings",
        lambda r: cluster(r).update(
            gcsFaultToleranceOptions={"redisAddress": "redis:6379", "storage": {"size": "1Gi"}}
        ),
        ["only applies to the rocksdb backend", "write remove storage"],
        None,
    ),
    (
        "autoscaler",
        lambda r: [autoscaling(r), worker(r).update(suspend=True)],
        ["suspend: is true, but a group cannot be suspended with the autoscaler on"],
        lambda r: worker(r).update(suspend=False),
    ),
    (
        "autoscaler",
        lambda r: [autoscaling(r), worker(r).update(idleTimeoutSeconds=60)],
        ["idleTimeoutSeconds: is set, but autoscaler v2 is not on"],
        lambda r: cluster(r).update(autoscalerOptions={"version": "v2"}),
    ),
    (
        "autoscaler",
        lambda r: [
            autoscaling(r),
            cluster(r).update(autoscalerOptions={"version": "v2"}),
            cluster(r)["headGroupSpec"]["template"]["spec"].update(restartPolicy="Always"),
        ],
        ["restartPolicy: is Always, but autoscaler v2 needs Never"],
        lambda r: cluster(r)["headGroupSpec"]["template"]["spec"].update(restartPolicy="Never"),
    ),
    (
        "autoscaler",
        lambda r: [autoscaling(r), worker(r).update(priority=1)],
        ["priority: is set, but Ray 2.55.1 is older than 2.56.0"],
        lambda r: worker(r).pop("priority"),
    ),
    (
        "autoscaler",
        lambda r: cluster(r).update(autoscalerOptions={"idleTimeoutSeconds": -5}),
        ["idleTimeoutSeconds: is -5"],
        lambda r: cluster(r).update(autoscalerOptions={"idleTimeoutSeconds": 60}),
    ),
    (
        "auth-options",
        lambda r: (
            cluster(r).update(rayVersion="2.51.0")
            or [
                c.update(image="rayproject/ray:2.51.0")
                for c in (head(r), worker(r)["template"]["spec"]["containers"][0])
            ]
        ),
        ["mode token needs Ray 2.52.0 or later"],
        lambda r: cluster(r).pop("authOptions"),
    ),
    ("feature-gates", lambda r: cluster(r).update(networkPolicy={}), ["RayClusterNetworkPolicy"], None),
    (
        "upgrade-strategy",
        lambda r: cluster(r).update(upgradeStrategy={"type": "Recreate"}),
        ["a RayCluster made by a RayService cannot have one", "write spec.upgradeStrategy"],
        None,
    ),
    (
        "upgrade-strategy",
        lambda r: r["spec"].update(
            upgradeStrategy={
                "type": "NewClusterWithIncrementalUpgrade",
                "clusterUpgradeOptions": {
                    "gatewayClassName": "istio",
                    "stepSizePercent": 50,
                    "maxSurgePercent": 20,
                    "intervalSeconds": 30,
                },
            }
        ),
        ["needs the Ray autoscaler", "stepSizePercent: 50 is more than maxSurgePercent 20"],
        None,
    ),
    (
        "initializing-timeout",
        lambda r: r["metadata"].update(annotations={"ray.io/initializing-timeout": "0"}),
        ["is '0', not above zero"],
        lambda r: r["metadata"].update(annotations={"ray.io/initializing-timeout": "600"}),
    ),
]


@pytest.mark.parametrize("rule_id, mutate, words, fix", KUBERAY, ids=[f"{k[0]}-{i}" for i, k in enumerate(KUBERAY)])
def test_kuberay_validation_is_refused_before_apply_with_the_fix(rule_id, mutate, words, fix):
    raw = good()
    mutate(raw)
    findings = [f for f in lint.lint(raw) if f.severity == "error"]
    assert {f.rule for f in findings} == {rule_id}, findings
    text = " | ".join(f.message for f in findings)
    for word in words:
        assert word in text, (word, text)
    assert all("KubeRay v1.7.0 rejects the RayService" in f.message for f in findings)
    if fix:
        fix(raw)
        assert [f for f in lint.lint(raw) if f.severity == "error"] == [], lint.lint(raw)


def test_the_incremental_upgrade_kuberay_accepts():
    raw = autoscaling(good())
    raw["spec"]["upgradeStrategy"] = {
        "type": "NewClusterWithIncrementalUpgrade",
        "clusterUpgradeOptions": {"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30},
    }
    assert lint.lint(raw) == []


@pytest.mark.parametrize("value", ["30m", "1h30m", "600", "1.5h"])
def test_initializing_timeouts_kuberay_accepts(value):
    raw = good()
    raw["metadata"]["annotations"] = {"ray.io/initializing-timeout": value}
    assert lint.lint(raw) == []


def test_every_rule_is_worded_by_the_one_formatter():
    assert lint.problem("a.b", "is 3", "b: 2", guess="b", why="because") == (
        "a.b: is 3 (because); did you mean `b`?; write b: 2"
    )
