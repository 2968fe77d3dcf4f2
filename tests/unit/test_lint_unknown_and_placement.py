"""The unknown-key rules and the placement rules in detail: what they must flag, what they must leave
alone, and that the placement search agrees with a brute-force one on small clusters."""

from __future__ import annotations

import itertools
import random

import pytest
import yaml
from ray.serve.schema import DeploymentSchema, ServeApplicationSchema

from helpers import config, lint
from helpers.lint import placement
from helpers.lint import schema as schema_rules
from helpers.lint import serve as serve_rules
from helpers.manifests import validate

GOOD = yaml.safe_load((config.MANIFESTS_DIR / "ray-service.yaml").read_text())


def good():
    return yaml.safe_load(yaml.safe_dump(GOOD))


def serve(raw, old, new):
    assert old in raw["spec"]["serveConfigV2"], old
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace(old, new)
    return raw


def rules(raw):
    return [f.rule for f in lint.lint(raw)]


def worker(raw):
    return raw["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]


def head_container(raw):
    return raw["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]


# -- serve-unknown-keys -----------------------------------------------------------------------------


def test_serve_keys_are_read_from_rays_own_models():
    # Every field Ray's models declare is known (no hand-written list to fall behind a Ray upgrade).
    assert set(DeploymentSchema.model_fields) <= set(serve_rules._model_fields(DeploymentSchema))
    assert set(ServeApplicationSchema.model_fields) <= set(serve_rules._model_fields(ServeApplicationSchema))
    # Ray's models ignore unknown keys (pydantic's default), except logging_config, which forbids them.
    assert serve_rules._extra(DeploymentSchema) == "ignore"
    raw = serve(good(), "num_replicas: 2", "num_replicas: 2\n        max_ongoing_requests: 5")
    assert lint.lint(raw) == []


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("route_prefix: /hello", "route_prefx: /hello", ["`route_prefx`", "application 'hello'", "`route_prefix`"]),
        ("num_cpus: 0.2", "num_cpu: 0.2", ["ray_actor_options", "did you mean `num_cpus`?", "num_cpus: 0.2"]),
        (
            "num_replicas: 2",
            "autoscaling_config: {min_replica: 1, max_replicas: 2}",
            ["autoscaling_config.min_replica", "AutoscalingConfig", "`min_replicas`"],
        ),
        (
            "num_replicas: 2",
            "num_replicas: 2\n        colour: blue",
            ["`colour`", "the keys there are:", "num_replicas"],
        ),
    ],
)
def test_unknown_serve_key_says_what_to_write(old, new, words):
    (finding,) = lint.lint(serve(good(), old, new))
    assert finding.rule == "serve-unknown-keys"
    for word in words:
        assert word in finding.message, (word, finding.message)


def test_logging_config_typo_is_one_finding_with_a_suggestion():
    # Ray forbids unknown keys in logging_config: serve-schema leaves that one to serve-unknown-keys.
    (finding,) = lint.lint(
        serve(good(), "route_prefix: /hello", "route_prefix: /hello\n    logging_config: {log_levl: INFO}")
    )
    assert finding.rule == "serve-unknown-keys"
    assert "Ray Serve rejects it" in finding.message and "`log_level`" in finding.message


def test_free_form_sections_are_not_checked():
    raw = serve(
        good(), "APP_VERSION: v1", "APP_VERSION: v1\n      config: {setup_timeout_seconds: 60}\n      my_plugin: {x: 1}"
    )
    raw = serve(raw, "greeting: Hello", "greeting: Hello\n          greting_typo_is_the_apps_business: 1")
    assert lint.lint(raw) == []


def test_camel_case_key_is_reported_once_by_its_own_rule():
    assert rules(serve(good(), "num_replicas: 2", "numReplicas: 2")) == ["camel-case-keys"]


# -- crd-unknown-fields -----------------------------------------------------------------------------


def test_maps_and_free_form_fields_are_not_checked():
    raw = good()
    raw["metadata"]["labels"] = {"team": "serving", "any-key": "x"}
    raw["metadata"]["annotations"] = {"example.com/note": "x"}
    raw["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"] = {"dashboard-host": "0.0.0.0"}
    head_container(raw)["resources"]["limits"]["ephemeral-storage"] = "1Gi"
    worker(raw)["template"]["metadata"] = {"labels": {"x": "y"}}
    assert lint.lint(raw) == []


@pytest.mark.parametrize(
    ("mutate", "path", "guess"),
    [
        (lambda r: r["metadata"].update(label={"a": "b"}), "metadata.label", "`labels`"),
        (
            lambda r: head_container(r).update(imagePullPolcy="Always"),
            "spec.rayClusterConfig.headGroupSpec.template.spec.containers[0].imagePullPolcy",
            "`imagePullPolicy`",
        ),
        (lambda r: worker(r).update(groupname="x"), "workerGroupSpecs[0].groupname", "`groupName`"),
        (lambda r: r["spec"].update(serveConfigv2="x"), "spec.serveConfigv2", "`serveConfigV2`"),
    ],
)
def test_unknown_crd_field_names_its_path_and_the_field_meant(mutate, path, guess):
    raw = good()
    mutate(raw)
    (finding,) = [f for f in lint.lint(raw) if f.rule == "crd-unknown-fields"]
    assert path in finding.message and f"did you mean {guess}?" in finding.message, finding.message


def test_unknown_crd_field_without_a_close_name_lists_the_fields():
    raw = good()
    worker(raw)["zzz"] = 1
    (finding,) = lint.lint(raw)
    assert "the fields there are:" in finding.message and "groupName" in finding.message


def test_preserve_unknown_fields_and_additional_properties_are_respected():
    schema = {
        "type": "object",
        "properties": {
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {}}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "closed": {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}}}}},
        },
    }
    obj = {"open": {"a": 1, "anything": 2}, "map": {"k": "v"}, "closed": {"a": {"b": 1, "c": 2}, "d": 3}}
    found = list(schema_rules._unknown_crd_fields(obj, schema, "spec"))
    assert [m.split(" ")[0] for m in found] == ["spec.closed.a.c", "spec.closed.d"]


# -- placement -------------------------------------------------------------------------------------


def test_max_replicas_per_node_that_cannot_be_met_is_an_error():
    raw = serve(good(), "num_replicas: 2", "num_replicas: 3\n        max_replicas_per_node: 1")
    (finding,) = lint.lint(raw)
    assert finding.rule == "replica-packing" and "max_replicas_per_node (1)" in finding.message
    assert "max_replicas_per_node: 2" in finding.message and "replicas: 2 in worker group 'workers'" in finding.message


@pytest.mark.parametrize("rule_id", ["replica-packing", "replica-placement"])
def test_the_suggested_num_cpus_fixes_it(rule_id):
    from tests.unit.test_lint import BAD

    raw = good()
    BAD[rule_id][0](raw)
    (finding,) = lint.lint(raw)
    suggested = finding.message.split("{num_cpus: ")[1].split("}")[0]
    app = yaml.safe_load(raw["spec"]["serveConfigV2"])
    stuck = finding.message.split("a replica of ")[1].split(" (")[0]
    for a in app["applications"]:
        for d in a["deployments"]:
            if stuck == f"{d['name']!r} of {a['name']!r}":
                d.setdefault("ray_actor_options", {})["num_cpus"] = float(suggested)
    raw["spec"]["serveConfigV2"] = yaml.safe_dump(app)
    assert lint.lint(raw) == []


def test_suggested_worker_count_fixes_it():
    raw = serve(good(), "num_replicas: 2", "num_replicas: 3")
    raw = serve(raw, "num_cpus: 0.2", "num_cpus: 0.6")
    assert "set replicas: 2 in worker group 'workers'" in lint.lint(raw)[0].message
    worker(raw)["replicas"] = 2
    assert lint.lint(raw) == []


def test_autoscaling_counts_a_groups_max_replicas():
    raw = serve(good(), "num_replicas: 2", "num_replicas: 3")
    raw = serve(raw, "num_cpus: 0.2", "num_cpus: 0.6")
    raw["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] = True  # head + up to 2 workers
    assert lint.lint(raw) == []


def test_a_placement_warning_does_not_block_an_apply():
    from tests.unit.test_lint import BAD

    raw = good()
    BAD["replica-placement"][0](raw)
    manifest = validate(raw)
    assert [w.rule for w in manifest.warnings] == ["replica-placement"]


def brute_force_packs(replicas, caps):
    items = [(r.units, i, r.per_node) for i, r in enumerate(replicas) for _ in range(r.count)]
    for nodes in itertools.product(range(len(caps)), repeat=len(items)):
        free, held = list(caps), {}
        for (units, i, per_node), node in zip(items, nodes):
            free[node] -= units
            held[i, node] = held.get((i, node), 0) + 1
            if free[node] < 0 or (per_node is not None and held[i, node] > per_node):
                break
        else:
            return True
    return False


def brute_force_blocks(replicas, caps):
    def fits(i, node, free, held):
        r = replicas[i]
        return free[node] >= r.units and (r.per_node is None or held.get((i, node), 0) < r.per_node)

    def search(left, free, held):
        waiting = [i for i, n in enumerate(left) if n]
        if any(not any(fits(i, node, free, held) for node in range(len(caps))) for i in waiting):
            return True
        for i in waiting:
            for node in range(len(caps)):
                if fits(i, node, free, held):
                    after = list(free)
                    after[node] -= replicas[i].units
                    more = {**held, (i, node): held.get((i, node), 0) + 1}
                    if search([n - (j == i) for j, n in enumerate(left)], after, more):
                        return True
        return False

    return search([r.count for r in replicas], list(caps), {})


def test_placement_search_agrees_with_brute_force():
    rng = random.Random(7)
    checked = 0
    while checked < 150:
        replicas = [
            lint.Replicas(
                "app",
                f"d{j}",
                rng.choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]),
                rng.randint(0, 3),
                rng.choice([None, None, 1, 2]),
            )
            for j in range(rng.randint(1, 3))
        ]
        if sum(r.count for r in replicas) > 6:
            continue
        caps = [rng.choice([1, 1, 2]) * lint.UNIT for _ in range(rng.randint(1, 3))]
        fits, _ = placement._packs(replicas, caps)
        assert fits == brute_force_packs(replicas, caps), (replicas, caps)
        if fits:
            blocks = placement._blocking(replicas, caps) is not None
            assert blocks == brute_force_blocks(replicas, caps), (replicas, caps)
        checked += 1


# -- node CPUs and worker counts, as KubeRay v1.7.0 sets them -------------------------------------------


@pytest.mark.parametrize(
    ("group", "cpus"),
    [
        ({"rayStartParams": {"num-cpus": "3"}, "resources": {"CPU": "2"}}, 2),  # the group's resources win
        ({"rayStartParams": {"num-cpus": "3"}}, 3),
        ({"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "500m"}}}]}}}, 1),  # rounded up
        ({"template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "2"}}}]}}}, 2),
        ({"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": 4}, "requests": {"cpu": 1}}}]}}}, 4),
        ({"template": {"spec": {"containers": [{}]}}}, 1),
    ],
)
def test_num_cpus(group, cpus):
    assert lint.num_cpus(group) == cpus


@pytest.mark.parametrize(
    ("group", "count"),
    [
        ({}, 0),
        ({"replicas": 1}, 1),
        ({"replicas": 0, "minReplicas": 2}, 2),
        ({"replicas": 5, "maxReplicas": 3}, 3),
        ({"replicas": 2, "numOfHosts": 2}, 4),
        ({"replicas": 2, "suspend": True}, 0),
    ],
)
def test_worker_replicas(group, count):
    assert lint.worker_replicas(group) == count
