"""manifests/workshop/ (what the instructor applies once on a shared cluster) and the kubernetes backend with
a Role in an existing namespace: rights derived from the backend's code, 403s named, the quota sized.
"""

from __future__ import annotations

import ast
import inspect
import json
import runpy

import pytest
import yaml

from helpers import config, preflight
from helpers.backends import BackendError, forward, kube, kubeapi
from helpers.backends.kube import KubernetesBackend
from helpers.backends.kubeapi import KubeAPI, learner_rights, missing_right
from helpers.kubectl import Kubectl
from helpers.manifests import load_manifest

from ..fakes import FakeCommands, FakeKube, write_kubeconfig
from .test_kubeapi_http import RecordingAPIServer

WORKSHOP = config.MANIFESTS_DIR / "workshop"
GENERATE = runpy.run_path(str(WORKSHOP / "generate.py"))
HELLO = load_manifest("manifests/ray-service.yaml")
# KubeAPI calls that need no right in the learner's namespace: the CRD is found through discovery when reading
# it is refused, the Namespace is left alone when it exists, a SelfSubjectAccessReview is open to everyone;
# deployment_available reads the operator's Deployment (kind only: the kind backend installs the operator).
NO_NAMESPACED_RIGHT = {"crd_installed", "apply Namespace", "missing_rights", "ensure_namespace", "deployment_available"}
# Calls of kind/install_monitoring only (the kind cluster's admin makes them; never on a shared cluster).
KIND_ONLY = {"apply PodMonitor", "delete_namespace"}


def documents():
    return list(yaml.safe_load_all((WORKSHOP / "learner-01.yaml").read_text()))


# -- the YAML -----------------------------------------------------------------------------------------------


def test_the_committed_example_is_what_the_generator_writes():
    assert (WORKSHOP / "learner-01.yaml").read_text() == GENERATE["learner_yaml"]("learner-01"), (
        "regenerate it: .venv/bin/python manifests/workshop/generate.py --learners 1 --out manifests/workshop"
    )


def test_one_learner_namespace_with_its_role_binding_account_and_quota():
    docs = documents()
    assert [d["kind"] for d in docs] == ["Namespace", "ServiceAccount", "Role", "RoleBinding", "ResourceQuota"]
    assert docs[0]["metadata"]["name"] == "learner-01"
    assert all(d["metadata"]["namespace"] == "learner-01" for d in docs[1:])
    binding = docs[3]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rayservice-learner"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "learner", "namespace": "learner-01"}]
    assert not any(d["kind"].startswith("Cluster") for d in docs)  # nothing cluster-wide


def test_thirty_learners_and_their_own_user_names(tmp_path, capsys):
    assert GENERATE["main"](["--learners", "30", "--out", str(tmp_path), "--user-format", "{namespace}@ex.org"]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == "learner-01.yaml" and files[-1] == "learner-30.yaml" and len(files) == 30
    docs = list(yaml.safe_load_all((tmp_path / "learner-07.yaml").read_text()))
    assert {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "learner-07@ex.org"} in docs[3]["subjects"]
    err = capsys.readouterr().err
    assert "helm upgrade --install kuberay-operator kuberay/kuberay-operator --version 1.7.0" in err


# -- the Role grants exactly what the backend's code paths need ------------------------------------------


def test_the_role_grants_exactly_the_learner_rights():
    (role,) = [d for d in documents() if d["kind"] == "Role"]
    assert GENERATE["granted"](role["rules"]) == learner_rights()
    assert learner_rights() == {
        "configmaps": {"create", "delete", "get", "patch"},
        "deployments.apps": {"create", "delete", "get", "patch"},  # Redis of GCS fault tolerance
        "endpointslices.discovery.k8s.io": {"list"},
        "events": {"list"},
        "pods": {"delete", "get", "list", "watch"},
        "pods/exec": {"create", "get"},
        "pods/log": {"get"},
        "pods/portforward": {"create", "get"},
        "rayclusters.ray.io": {"get", "list", "watch"},
        "rayservices.ray.io": {"create", "delete", "get", "list", "patch", "watch"},
        "secrets": {"create", "delete", "get"},  # never `list`: that would read every Secret of the namespace
        "services": {"create", "delete", "get", "list", "patch"},
    }
    assert all(verb in {"get", "list", "watch"} for pairs in kubeapi.EXPLORE_RIGHTS.values() for verb, _ in pairs)


def _api_calls_in(module) -> set[str]:
    """Names of the methods called on ``self.kube`` (the backend's KubeAPI) anywhere in ``module``'s source."""
    tree = ast.parse(inspect.getsource(module))
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "kube"
    }


def test_every_kubeapi_call_of_the_backend_has_its_rights():
    from helpers.backends import host, kind, kube_faults, kube_monitoring, kube_redis, kube_waits

    modules = (kube, kind, host, kube_faults, kube_waits, kube_redis, kube_monitoring)
    called = set().union(*(_api_calls_in(m) for m in modules))
    assert {"apply", "list_pods", "create_secret", "pods_behind"} <= called  # the calls are found where they are
    listed = {key.split()[0] for key in kubeapi.KUBEAPI_RIGHTS} | NO_NAMESPACED_RIGHT | KIND_ONLY
    assert called <= listed, f"add the rights of {called - listed} to KUBEAPI_RIGHTS"
    kinds = {key.split()[1] for key in kubeapi.KUBEAPI_RIGHTS if key.startswith("apply ")}
    # What a learner applies: the app code, the RayService, and with GCS fault tolerance Redis (manifests/redis/).
    assert kinds == {"ConfigMap", "RayService", "Deployment", "Service"}


def test_every_kubeapi_method_is_listed():
    methods = {n for n, f in vars(KubeAPI).items() if callable(f) and not n.startswith("_")}
    listed = {key.split()[0] for key in kubeapi.KUBEAPI_RIGHTS} | NO_NAMESPACED_RIGHT | KIND_ONLY
    assert methods <= listed, f"list the rights of {methods - listed}"


def test_every_kubectl_command_and_forward_call_has_its_rights():
    commands = {n for n, f in vars(Kubectl).items() if callable(f) and not n.startswith("_")}
    assert commands == set(kubeapi.KUBECTL_RIGHTS), "one entry per Kubectl method in KUBECTL_RIGHTS"
    calls = {n for n, f in vars(forward.EndpointsAPI).items() if callable(f) and not n.startswith("_")}
    assert calls == set(kubeapi.FORWARD_RIGHTS)


def test_the_recorded_calls_of_a_whole_session_are_all_covered(tmp_path):
    kube_api = FakeKube()
    backend = KubernetesBackend(namespace="learner-01", state_dir=tmp_path, commands=FakeCommands(), kube=kube_api)
    backend.up(HELLO)
    backend.apply(HELLO)
    backend.down(quiet=True)
    listed = {key.split()[0] for key in kubeapi.KUBEAPI_RIGHTS}
    for call in kube_api.calls:
        name = f"apply {call[1]['kind']}" if call[0] == "apply" else call[0]
        assert name in kubeapi.KUBEAPI_RIGHTS or name.split()[0] in listed - {"apply"} or name in NO_NAMESPACED_RIGHT


# -- the quota ---------------------------------------------------------------------------------------------


def test_the_quota_fits_one_lesson_with_upgrade_room():
    from helpers.quantities import gib as _gib

    (quota,) = [d for d in documents() if d["kind"] == "ResourceQuota"]
    hard = quota["spec"]["hard"]
    two_clusters = 2 * preflight.manifest_memory_gib(HELLO)
    assert _gib(hard["requests.memory"]) >= two_clusters and _gib(hard["limits.memory"]) >= two_clusters
    assert int(hard["pods"]) >= 2 * (1 + HELLO.worker_groups[0].replicas) + 1
    assert hard == {**preflight.namespace_quota(), "services.nodeports": "0", "services.loadbalancers": "0"}
    # not the whole room: 30 learners on one cluster
    assert _gib(hard["requests.memory"]) <= two_clusters + 3


# -- the kubernetes backend with a Role only ------------------------------------------------------------------


class RoleOnlyKube(FakeKube):
    """FakeKube whose account has only some rights: answers missing_rights like SelfSubjectAccessReviews."""

    def __init__(self, lacking=()):
        super().__init__()
        self.lacking = list(lacking)

    def missing_rights(self, namespace, rights=None):
        self.calls.append(("missing_rights", namespace))
        return list(self.lacking)


def test_a_missing_right_is_named_before_anything_is_applied(tmp_path):
    api = RoleOnlyKube(lacking=[("create", "rayservices.ray.io"), ("create", "pods/exec")])
    backend = KubernetesBackend(namespace="learner-7", state_dir=tmp_path, commands=FakeCommands(), kube=api)
    with pytest.raises(BackendError) as info:
        backend.up(HELLO)
    message = str(info.value)
    assert "2 right(s) missing in namespace 'learner-7'" in message
    assert "your account cannot `create` `rayservices.ray.io` in namespace `learner-7`: ask the instructor" in message
    assert "manifests/workshop/" in message and "`create` `pods/exec`" in message
    assert api.applied("ConfigMap") == []


def test_no_right_at_all_asks_whether_it_is_the_right_namespace(tmp_path):
    everything = [(verb, resource) for resource, verbs in learner_rights().items() for verb in verbs]
    api = RoleOnlyKube(lacking=everything)
    backend = KubernetesBackend(namespace="learner-70", state_dir=tmp_path, commands=FakeCommands(), kube=api)
    with pytest.raises(BackendError, match="none of the rights .* namespace 'learner-70': is NAMESPACE the one"):
        backend.up(HELLO)


def test_with_every_right_the_namespace_is_prepared(tmp_path):
    api = RoleOnlyKube()
    backend = KubernetesBackend(namespace="learner-7", state_dir=tmp_path, commands=FakeCommands(), kube=api)
    backend.up(HELLO)
    assert ("missing_rights", "learner-7") in api.calls
    assert [c["metadata"]["namespace"] for c in api.applied("ConfigMap")] == ["learner-7"]


# -- KubeAPI against an API server that says 403 ----------------------------------------------------------------


class RBACServer(RecordingAPIServer):
    """The recording API server with RBAC: ``forbidden`` is a set of (method, path) answered 403; the
    SelfSubjectAccessReviews allow everything but ``denied`` (verb, resource, subresource)."""

    def __init__(self):
        super().__init__()
        self.forbidden: set[tuple[str, str]] = set()
        self.denied: set[tuple[str, str, str]] = set()
        self.namespaces: set[str] = set()

    def answer(self, method, path, body):
        if (method, path) in self.forbidden:
            return 403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403}
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            review = json.loads(body)
            attrs = review["spec"]["resourceAttributes"]
            key = (attrs["verb"], attrs["resource"], attrs.get("subresource") or "")
            review["status"] = {"allowed": key not in self.denied}
            return 201, review
        if method == "GET" and path.startswith("/api/v1/namespaces/") and path.count("/") == 4:
            name = path.rsplit("/", 1)[1]
            if name in self.namespaces:
                return 200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}}
        return super().answer(method, path, body)


@pytest.fixture
def rbac(tmp_path, monkeypatch):
    server = RBACServer()
    path = write_kubeconfig(tmp_path, server.url, context="workshop", user="learner-7")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path))
    yield KubeAPI(context="workshop"), server
    server.close()


NS_OBJ = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "learner-7"}}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "apps", "namespace": "learner-7"}}


def test_an_existing_namespace_is_left_alone(rbac):
    client, server = rbac
    server.namespaces.add("learner-7")
    client.apply(NS_OBJ)
    assert server.calls("PATCH") == []


def test_a_namespace_we_may_neither_read_nor_create_is_taken_as_existing(rbac):
    client, server = rbac
    server.forbidden |= {("GET", "/api/v1/namespaces/learner-7"), ("PATCH", "/api/v1/namespaces/learner-7")}
    assert client.apply(NS_OBJ) == {}  # exists, not ours: no error


def test_a_missing_namespace_is_created(rbac):
    client, server = rbac
    client.apply(NS_OBJ)
    assert [p["path"] for p in server.calls("PATCH")] == ["/api/v1/namespaces/learner-7"]


def test_a_refused_apply_names_verb_resource_and_namespace(rbac):
    client, server = rbac
    server.forbidden.add(("PATCH", "/api/v1/namespaces/learner-7/configmaps/apps"))
    with pytest.raises(kubeapi.ForbiddenError) as info:
        client.apply(CONFIGMAP)
    assert str(info.value) == (
        "Kubernetes API: apply ConfigMap apps was refused (403): " + missing_right("patch", "configmaps", "learner-7")
    )
    assert "your account cannot `patch` `configmaps` in namespace `learner-7`: ask the instructor" in str(info.value)


def test_a_refused_read_names_it_too(rbac):
    client, server = rbac
    server.forbidden.add(("GET", "/api/v1/namespaces/learner-7/pods"))
    with pytest.raises(kubeapi.ForbiddenError, match="cannot `list` `pods` in namespace `learner-7`"):
        client.list_pods("learner-7", "ray.io/cluster=x")
    server.forbidden.add(("GET", "/apis/ray.io/v1/namespaces/learner-7/rayservices/app"))
    with pytest.raises(kubeapi.ForbiddenError, match="cannot `get` `rayservices.ray.io` in namespace `learner-7`"):
        client.get_rayservice("learner-7", "app")


def test_the_crd_is_found_through_discovery_when_reading_it_is_refused(rbac):
    client, server = rbac
    server.forbidden.add(("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayservices.ray.io"))
    server.forbidden.add(("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayjobs.ray.io"))
    assert client.crd_installed() is True  # /apis/ray.io/v1 lists rayservices
    assert client.crd_installed("rayjobs.ray.io") is False  # ... and no rayjobs
    assert ("GET", "/apis/ray.io/v1") in {(r["method"], r["path"]) for r in server.requests}


def test_missing_rights_asks_the_api_server(rbac):
    client, server = rbac
    server.denied = {("create", "rayservices", ""), ("create", "pods", "exec")}
    assert client.missing_rights("learner-7") == [("create", "pods/exec"), ("create", "rayservices.ray.io")]
    reviews = [json.loads(r["body"]) for r in server.calls("POST")]
    assert len(reviews) == sum(len(v) for v in learner_rights().values())
    assert {r["spec"]["resourceAttributes"]["namespace"] for r in reviews} == {"learner-7"}
