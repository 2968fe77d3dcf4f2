"""The bad-input matrix: malformed manifests and updates, each refused with its own message, all sent to a
cluster that is serving `hello` under live traffic; not one request may fail and nothing may change."""

from __future__ import annotations

import copy

import pytest
import yaml

from helpers.backends import BackendError, DeployFailedError
from helpers.manifests import ManifestError, with_import_path, with_user_config
from helpers.traffic import Traffic
from tests.integration.conftest import HELLO

pytestmark = pytest.mark.integration


def text(mutate) -> str:
    raw = copy.deepcopy(HELLO.raw)
    mutate(raw)
    return yaml.safe_dump(raw, sort_keys=False)


def serve(old: str, new: str):
    def mutate(raw):
        assert old in raw["spec"]["serveConfigV2"], old
        raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace(old, new)

    return mutate


def workers(raw):
    return raw["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]


def head(raw):
    return raw["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]


# id -> (the input: YAML text, or a callable that builds the update, error type, words the message must hold)
MATRIX = {
    "yaml syntax error": ("apiVersion: ray.io/v1\nkind: [RayService\n", ManifestError, "YAML syntax error at line 3"),
    "empty document": ("# nothing here\n", ManifestError, "not a mapping"),
    "a list, not a mapping": ("- apiVersion: ray.io/v1\n- kind: RayService\n", ManifestError, "not a mapping"),
    "wrong kind": (text(lambda r: r.update(kind="RayCluster")), ManifestError, "write kind: RayService"),
    "v1alpha1": (text(lambda r: r.update(apiVersion="ray.io/v1alpha1")), ManifestError, "write apiVersion: ray.io/v1"),
    "missing serveConfigV2": (
        text(lambda r: r["spec"].pop("serveConfigV2")),
        ManifestError,
        "serveConfigV2 is missing",
    ),
    "serveConfigV2 as an object": (
        text(lambda r: r["spec"].update(serveConfigV2=yaml.safe_load(r["spec"]["serveConfigV2"]))),
        ManifestError,
        "YAML *string*",
    ),
    "camelCase keys": (text(serve("route_prefix", "routePrefix")), ManifestError, "routePrefix -> route_prefix"),
    "import_path without an attribute": (
        text(serve("import_path: hello_app:app", "import_path: hello_app")),
        ManifestError,
        "import_path",
    ),
    "negative replicas": (text(serve("num_replicas: 2", "num_replicas: -2")), ManifestError, "greater than 0"),
    "absurd replicas": (text(serve("num_replicas: 2", "num_replicas: 100000")), ManifestError, "PENDING forever"),
    "replica bigger than any node": (text(serve("num_cpus: 0.2", "num_cpus: 8")), ManifestError, "no node can ever"),
    "route_prefix of the wrong type": (
        text(serve("route_prefix: /hello", "route_prefix: 5")),
        ManifestError,
        "route_prefix",
    ),
    "route_prefix without /": (
        text(serve("route_prefix: /hello", "route_prefix: hello")),
        ManifestError,
        "write route_prefix: /hello",
    ),
    "user_config not a mapping": (text(serve("greeting: Hello", "- Hello")), ManifestError, "user_config"),
    "worker replicas a string": (text(lambda r: workers(r).update(replicas="two")), ManifestError, "whole number"),
    "name too long": (text(lambda r: r["metadata"].update(name="r" * 60)), ManifestError, "at most 47"),
    "inline credentials": (
        text(lambda r: head(r)["env"].append({"name": "API_KEY", "value": "x"})),
        ManifestError,
        "secretKeyRef",
    ),
    "rayVersion not the image tag": (
        text(lambda r: r["spec"]["rayClusterConfig"].update(rayVersion="2.50.0")),
        ManifestError,
        "rayVersion is '2.50.0'",
    ),
    "duplicate route prefixes": (
        text(
            lambda r: r["spec"].update(
                serveConfigV2=r["spec"]["serveConfigV2"]
                + "  - name: other\n    route_prefix: /hello\n    import_path: hello_app:app\n"
            )
        ),
        ManifestError,
        "share route_prefix '/hello'",
    ),
    "unknown application in an update": (
        lambda: with_user_config(HELLO, "helo", "Hello", {"greeting": "Hi"}),
        ManifestError,
        "no application 'helo'",
    ),
    "unknown deployment in an update": (
        lambda: with_user_config(HELLO, "hello", "Helo", {"greeting": "Hi"}),
        ManifestError,
        "has no deployment 'Helo'",
    ),
    "cluster shape change": (
        text(lambda r: workers(r).update(groupName="others")),
        BackendError,
        "Nothing was changed",
    ),
    "missing file": ("manifests/no-such-file.yaml", ManifestError, "file not found"),
}


@pytest.fixture(scope="module")
def traffic(serving):
    """20 requests/s to /hello for the whole matrix (no retries: a single failure counts)."""
    before = serving.serve.details()["applications"]["hello"]["deployed_app_config"]
    with Traffic(serving.serve_url, ["/hello"], rate=20, retries=False, max_seconds=600) as t:
        t.wait(1.0)
        yield t
    assert serving.serve.details()["applications"]["hello"]["deployed_app_config"] == before


def test_at_least_fifteen_cases():
    assert len(MATRIX) >= 15


@pytest.mark.parametrize("case", list(MATRIX))
def test_bad_input_is_refused_with_its_message(serving, traffic, case):
    bad, error, words = MATRIX[case]
    applied_before = serving.serve.details()["applications"]["hello"]["deployed_app_config"]
    with pytest.raises(error) as info:
        serving.apply(bad() if callable(bad) else bad)
    assert words in str(info.value), str(info.value)
    assert "Traceback" not in str(info.value)
    assert serving.serve.details()["applications"]["hello"]["deployed_app_config"] == applied_before


def test_a_failing_apply_leaves_the_previous_version_serving(serving, traffic):
    """A manifest that passes every check but cannot start (no such module): Serve reports DEPLOY_FAILED and
    the old replicas answer every request; then the good version goes back on."""
    mark = traffic.mark("bad import_path applied")
    serving.apply(with_import_path(HELLO, "hello", "no_such_module:app"))
    with pytest.raises(DeployFailedError, match="no_such_module"):
        serving.wait_ready(timeout=120)
    traffic.wait(2.0)
    answers = {r.answer for r in traffic.records if r.t >= mark}
    assert answers == {"v1: Hello from RayService!"}
    serving.apply(HELLO)
    serving.wait_ready(timeout=120)


def test_zz_not_one_request_failed(traffic):
    traffic.wait(1.0)
    summary = traffic.summary()
    assert summary["sent"] > 100 and summary["failed"] == 0, summary
