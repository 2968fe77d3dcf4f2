"""Every lint rule: a good example that passes it and a bad one that it reports, with its fix."""

import subprocess
import sys

import pytest
import yaml

from helpers import config, lint

GOOD = yaml.safe_load((config.MANIFESTS_DIR / "ray-service.yaml").read_text())
MULTI = yaml.safe_load((config.MANIFESTS_DIR / "ray-service-multi.yaml").read_text())


def good():
    return yaml.safe_load(yaml.safe_dump(GOOD))


def head(raw):
    return raw["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]


def worker(raw):
    return raw["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]


def serve(raw, old, new):
    assert old in raw["spec"]["serveConfigV2"], old
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace(old, new)


def _set(obj, **values):
    obj.update(values)


def _rename(obj, old, new):
    obj[new] = obj.pop(old)


def multi_with_default_cpus(raw):
    """The three-application config with predict-b's num_cpus left out: Serve gives its replica 1 CPU."""
    text = MULTI["spec"]["serveConfigV2"]
    cut = text.rindex("ray_actor_options:")
    raw["spec"]["serveConfigV2"] = text[:cut].rstrip() + "\n"


# rule id -> (how to break the good manifest, words the message must contain: the mistake and the fix)
BAD = {
    "api-version": (lambda r: _set(r, apiVersion="ray.io/v1alpha1"), ["v1alpha1", "write apiVersion: ray.io/v1"]),
    "kind": (lambda r: _set(r, kind="RayCluster"), ["'RayCluster'", "write kind: RayService"]),
    "name": (lambda r: _set(r["metadata"], name="Ray_Serve"), ["not a valid Kubernetes name", "lower-case"]),
    "name-length": (lambda r: _set(r["metadata"], name="a" * 48), ["48 characters", "at most 47"]),
    "serve-config-string": (
        lambda r: _set(r["spec"], serveConfigV2=yaml.safe_load(r["spec"]["serveConfigV2"])),
        ["is an object", "serveConfigV2: |"],
    ),
    "camel-case-keys": (lambda r: serve(r, "route_prefix", "routePrefix"), ["routePrefix -> route_prefix"]),
    "serve-schema": (
        lambda r: serve(r, "num_replicas: 2", "num_replicas: zero"),
        ["num_replicas", "ServeDeploySchema"],
    ),
    "serve-unknown-keys": (
        lambda r: serve(r, "num_replicas: 2", "num_replica: 2"),
        ["`num_replica`", "ignores unknown keys", "did you mean `num_replicas`?", "Write num_replicas: 2"],
    ),
    "route-prefix": (
        lambda r: serve(r, "route_prefix: /hello", "route_prefix: hello/"),
        ["'hello/'", "route_prefix: /hello"],
    ),
    "duplicate-route": (
        lambda r: _set(r["spec"], serveConfigV2=MULTI["spec"]["serveConfigV2"].replace("/predict-b", "/hello")),
        ["share route_prefix '/hello'", "its own prefix"],
    ),
    "crd-unknown-fields": (
        lambda r: _rename(r["spec"]["rayClusterConfig"], "workerGroupSpecs", "workerGroupSpec"),
        ["spec.rayClusterConfig.workerGroupSpec is not a field", "kubectl apply", "did you mean `workerGroupSpecs`?"],
    ),
    "crd-schema": (
        lambda r: _set(worker(r), replicas="two"),
        ["workerGroupSpecs[0].replicas: is two, which is not a whole number", "CRD schema", "write replicas: 1"],
    ),
    "cluster-config": (
        lambda r: worker(r)["rayStartParams"].update({"num-cpus": "two"}),
        ["the CPU count is not a number", "num-cpus: '1'"],
    ),
    "ray-version": (
        lambda r: _set(r["spec"]["rayClusterConfig"], rayVersion="2.54.0"),
        ["'2.54.0'", 'rayVersion: "2.55.1"'],
    ),
    "ray-version-cve": (
        lambda r: [
            r["spec"]["rayClusterConfig"].pop("authOptions"),  # token auth needs Ray >= 2.52 (auth-options)
            _set(r["spec"]["rayClusterConfig"], rayVersion="2.9.0"),
            _set(head(r), image="rayproject/ray:2.9.0"),
            _set(worker(r)["template"]["spec"]["containers"][0], image="rayproject/ray:2.9.0-py310"),
        ],
        ["CVE-2026-27482", f"use Ray {config.RAY_VERSION}"],
    ),
    "serve-port": (
        lambda r: _set(head(r), ports=[{"containerPort": 8000}, {"containerPort": 8265, "name": "dashboard"}]),
        ["no port named 'serve'", "[8000]", "{containerPort: 8000, name: serve}"],
    ),
    "inline-credentials": (
        lambda r: head(r)["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}),
        ["AWS_SECRET_ACCESS_KEY", "secretKeyRef"],
    ),
    "gcs-fault-tolerance": (
        lambda r: _set(
            r["spec"]["rayClusterConfig"], gcsFaultToleranceOptions={"backend": "rocksdb", "storage": {"size": "1Gi"}}
        ),
        ["backend is rocksdb", f"Ray {config.RAY_VERSION}'s GCS has no RocksDB storage", "newer", "use Redis"],
    ),
    "replica-cpus": (
        lambda r: [serve(r, "num_cpus: 0.2", "num_cpus: 1.5"), serve(r, "num_replicas: 2", "num_replicas: 1")],
        ["1.5 CPUs per replica", "largest Ray node has 1"],
    ),
    "replica-capacity": (
        lambda r: serve(r, "num_replicas: 2", "num_replicas: 1000"),
        ["200 CPUs", "cluster has 2", "lower num_replicas"],
    ),
    "initializing-timeout": (
        lambda r: r["metadata"].setdefault("annotations", {}).update({"ray.io/initializing-timeout": "ten minutes"}),
        ["'ten minutes', neither a Go duration nor a whole number", 'write ray.io/initializing-timeout: "30m"'],
    ),
    # KubeRay v1.7.0's utils/validation.go: the API server accepts these, KubeRay refuses them.
    "group-containers": (
        lambda r: _set(worker(r)["template"]["spec"], containers=[]),
        ["workerGroupSpecs[0].template.spec.containers: is empty", "KubeRay v1.7.0 rejects", "write containers:"],
    ),
    "worker-replicas": (
        lambda r: _set(worker(r), minReplicas=3, maxReplicas=2, replicas=2),
        ["minReplicas 3 is greater than maxReplicas 2", "write maxReplicas: 3"],
    ),
    "group-resources": (
        lambda r: _set(worker(r), rayStartParams={"num-cpus": "1"}, resources={"cpu": "1"}),
        ["sets rayStartParams num-cpus and resources both", "write only resources"],
    ),
    "group-labels": (
        lambda r: _set(worker(r), labels={"zone": "eu west"}),
        ["value 'eu west' is not a valid label value", "at most 63"],
    ),
    "gcs-settings": (
        lambda r: head(r)["env"].append({"name": "REDIS_USERNAME", "value": "ray"}),
        ["REDIS_USERNAME", "write only rayClusterConfig.gcsFaultToleranceOptions.redisUsername"],
    ),
    "autoscaler": (
        lambda r: head(r)["env"].append({"name": "RAY_enable_autoscaler_v2", "value": "1"}),
        ["RAY_enable_autoscaler_v2=1 without the autoscaler", "write enableInTreeAutoscaling: true"],
    ),
    "feature-gates": (
        lambda r: _set(r["spec"]["rayClusterConfig"], tlsOptions={}),
        ["tlsOptions: needs KubeRay's RayClusterMTLS feature gate", "write remove tlsOptions"],
    ),
    "auth-options": (
        lambda r: r["spec"]["rayClusterConfig"]["authOptions"].update(enableK8sTokenAuth=True),
        ["enableK8sTokenAuth: is true, but a RayService does not support it", "write mode: token"],
    ),
    "head-service-name": (
        lambda r: _set(r["spec"]["rayClusterConfig"]["headGroupSpec"], headService={"metadata": {"name": "head"}}),
        ["headService.metadata.name: is set", "write remove name"],
    ),
    "upgrade-strategy": (
        lambda r: _set(r["spec"], upgradeStrategy={"type": "NewClusters"}),
        ["'NewClusters', not one of", "write type: NewCluster"],
    ),
    # The requests the manifests had before the host backend: 1 CPU for head + worker, 2 during an upgrade.
    "upgrade-room": (
        lambda r: [
            head(r)["resources"]["requests"].update(cpu="500m"),
            worker(r)["template"]["spec"]["containers"][0]["resources"]["requests"].update(cpu="500m"),
        ],
        ["request 1 CPUs in all, 2 while", "2-CPU node", "Lower resources.requests.cpu"],
    ),
    # 3 x 0.6 CPU on two 1-CPU nodes: 1.8 <= 2 CPUs in all, but no node holds two of them.
    "replica-packing": (
        lambda r: [serve(r, "num_replicas: 2", "num_replicas: 3"), serve(r, "num_cpus: 0.2", "num_cpus: 0.6")],
        ["on ONE node", "'Hello' of 'hello' (0.6 CPU) finds no node with 0.6 CPU free", "{num_cpus: 0.5}"],
    ),
    # 1.6 of 2 CPUs, and it fits (predict-b alone on a node) - unless hello's two replicas take one each.
    "replica-placement": (
        multi_with_default_cpus,
        ["fit only if Serve places them well", "'Predictor' of 'predict-b' (1 CPU, Serve's default", "{num_cpus: 0.5}"],
    ),
}


def test_every_rule_has_a_bad_example():
    assert sorted(BAD) == sorted(r.id for r in lint.RULES)


@pytest.mark.parametrize("path", sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml")), ids=lambda p: p.name)
def test_good_examples_pass_every_rule(path):
    assert lint.lint_text(path.read_text()) == []


@pytest.mark.parametrize("rule_id", sorted(BAD))
def test_bad_example_is_reported_with_its_fix(rule_id):
    raw = good()
    mutate, words = BAD[rule_id]
    mutate(raw)
    findings = lint.lint(raw)
    mine = [f for f in findings if f.rule == rule_id]
    assert mine, findings
    for word in words:
        assert word in mine[0].message, (word, mine[0].message)
    # One mistake, one rule: the other rules stay quiet about it.
    assert {f.rule for f in findings} == {rule_id}, findings


HA = yaml.safe_load((config.MANIFESTS_DIR / "ray-service-ha.yaml").read_text())


def ha():
    return yaml.safe_load(yaml.safe_dump(HA))


def gcs(raw):
    return raw["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]


def test_a_redis_password_written_inline_is_the_inline_credentials_error():
    raw = ha()
    gcs(raw)["redisPassword"] = {"value": "hunter2"}
    (finding,) = lint.lint(raw)
    assert (finding.rule, finding.severity) == ("inline-credentials", "error")
    assert "gcsFaultToleranceOptions.redisPassword.value" in finding.message
    assert "{valueFrom: {secretKeyRef: {name: redis-password, key: password}}}" in finding.message
    assert "hunter2" not in finding.message


@pytest.mark.parametrize(
    "break_it, words",
    [
        (
            lambda r: head(r)["env"].append({"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}),
            ["sets RAY_REDIS_ADDRESS by hand", "KubeRay sets it from gcsFaultToleranceOptions.redisAddress"],
        ),
        (
            lambda r: head(r)["env"].append(
                {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "password"}}}
            ),
            ["sets REDIS_PASSWORD by hand", "gcsFaultToleranceOptions.redisPassword"],
        ),
        (
            lambda r: r["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"].update(
                {"redis-password": "$REDIS_PASSWORD"}
            ),
            ["rayStartParams sets redis-password", "--redis-password=$REDIS_PASSWORD"],
        ),
        (lambda r: gcs(r).pop("redisAddress"), ["no redisAddress", 'redisAddress: "redis:6379"']),
    ],
    ids=["RAY_REDIS_ADDRESS", "REDIS_PASSWORD-env", "rayStartParams", "no-address"],
)
def test_what_kuberay_sets_itself_is_reported_next_to_gcs_fault_tolerance(break_it, words):
    raw = ha()
    break_it(raw)
    (finding,) = lint.lint(raw)
    assert (finding.rule, finding.severity) == ("gcs-fault-tolerance", "error")
    for word in words:
        assert word in finding.message, finding.message


def test_ray_redis_address_without_gcs_fault_tolerance_is_rejected_as_kuberay_does():
    raw = good()
    head(raw)["env"].append({"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"})
    (finding,) = lint.lint(raw)
    assert finding.rule == "gcs-fault-tolerance" and "gcsFaultToleranceOptions is not set" in finding.message


def test_seed_manifest_every_mistake_reported(seed_manifest_text):
    findings = lint.lint_text(seed_manifest_text)
    assert {f.rule for f in findings} == {
        "api-version",  # ray.io/v1alpha1
        "serve-config-string",  # an object, not a YAML string
        "camel-case-keys",  # routePrefix, importPath, numReplicas, runtimeEnv.env
        "inline-credentials",  # AWS keys in runtimeEnv.env
        "ray-version-cve",  # Ray 2.9.0
        "serve-port",  # containerPort 8000 without the name serve
    }
    assert all(f.message.count(":") >= 1 for f in findings)


def test_yaml_syntax_error_is_one_finding_with_its_line():
    (finding,) = lint.lint_text("apiVersion: ray.io/v1\nkind: [RayService\n")
    assert finding.rule == "yaml-syntax" and "line" in finding.message


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "helpers", "lint", *args], capture_output=True, text=True, cwd=config.PROJECT_ROOT
    )


def test_cli_exit_codes(tmp_path, seed_manifest_text):
    ok = run_cli("manifests/ray-service.yaml", "manifests/ray-service-multi.yaml")
    assert ok.returncode == 0 and ok.stdout.count(": ok (") == 2, ok.stdout + ok.stderr
    seed = tmp_path / "seed.yaml"
    seed.write_text(seed_manifest_text)
    bad = run_cli(str(seed))
    assert bad.returncode == 1
    assert "error [inline-credentials]" in bad.stdout and "warning [serve-port]" in bad.stdout
    # Warnings alone do not fail.
    raw = good()
    BAD["serve-port"][0](raw)
    warn = tmp_path / "warn.yaml"
    warn.write_text(yaml.safe_dump(raw))
    assert run_cli(str(warn)).returncode == 0
    assert run_cli().returncode == 2
    listed = run_cli("--rules").stdout
    for rule_id in ("replica-capacity", "serve-unknown-keys", "crd-unknown-fields", "replica-packing"):
        assert rule_id in listed
    assert "replica-placement      warning" in listed
