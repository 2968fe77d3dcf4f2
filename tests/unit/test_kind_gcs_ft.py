"""GCS fault tolerance on the kind/kubernetes backends: Redis (manifests/redis/) and its Secret before the
RayService, a head pod lost and back with the applications kept, and a cleanup that waits for KubeRay's Redis
cleanup Job before it deletes Redis.

No Kubernetes runs here: FakeKube records the calls, the KubeRay timeline fake (tests/kuberay_fake/) plays
what KubeRay v1.7.0 does with gcsFaultToleranceOptions (the env it injects, the finalizer
ray.io/gcs-ft-redis-cleanup-finalizer and its cleanup Job), and KubeAPI runs against a recording API server.
"""

from __future__ import annotations

import json
import re
import types

import pytest
import yaml

from helpers import config, progress, quantities
from helpers.backends import BackendError
from helpers.backends.kind import IMAGES, KindBackend
from helpers.backends.kube import APP_CODE_CONFIGMAP, KubernetesBackend
from helpers.backends.kube_redis import REDIS_SECRET, gcs_fault_tolerance, is_tutorial_redis, redis_image, redis_objects
from helpers.backends.kubeapi import KUBEAPI_RIGHTS
from helpers.manifests import load_manifest, validate

from ..fakes import FakeCommands, FakeKube, rayservice, write_kubeconfig
from ..kuberay_fake import KubeRayTimeline
from ..kuberay_fake.backend import backend_on
from .test_forward import Pods, follower, get
from .test_kubeapi_http import RESOURCES, RecordingAPIServer

NS = "rayservice-tutorial"
HA = load_manifest("manifests/ray-service-ha.yaml")
HELLO = load_manifest("manifests/ray-service.yaml")
PASSWORD = re.compile(r"^[0-9a-f]{48}$")
PORTS = config.Ports(serve=29100, dashboard=29365, metrics=29180)


def ha_variant(**options):
    """The HA manifest with other gcsFaultToleranceOptions."""
    raw = yaml.safe_load(yaml.safe_dump(HA.raw))
    raw["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"] = options
    return validate(raw)


def sent_password(kube) -> str:
    (call,) = [c for c in kube.calls if c[0] == "create_secret"][:1]
    return call[3]["password"]


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch):
    """The backend's waits poll every 2 s; against FakeKube nothing changes while they sleep."""
    import time

    monkeypatch.setattr(progress, "time", types.SimpleNamespace(sleep=lambda s: None, monotonic=time.monotonic))


@pytest.fixture
def kind(tmp_path):
    commands = FakeCommands(responses={("docker", "info"): (0, "28.2.2 25769803776", "")})
    kube = FakeKube()
    backend = KindBackend(state_dir=tmp_path, ports=PORTS, commands=commands, kube=kube)
    yield backend, commands, kube
    backend.stop_port_forwards()


# -- apply: the Secret, Redis, a wait, then the RayService ------------------------------------------------


def test_the_ha_manifest_asks_for_the_tutorials_redis():
    options = gcs_fault_tolerance(HA)
    assert options["redisAddress"] == "redis:6379" and is_tutorial_redis(options, NS)
    assert gcs_fault_tolerance(HELLO) is None
    assert is_tutorial_redis({"redisAddress": f"redis://redis.{NS}.svc.cluster.local:6379"}, NS)
    assert not is_tutorial_redis({"redisAddress": "redis.example.com:6379"}, NS)
    assert not is_tutorial_redis({"redisAddress": "redis:6380"}, NS)
    assert not is_tutorial_redis({"backend": "rocksdb"}, NS)


def test_apply_makes_the_secret_then_redis_waits_for_it_then_the_rayservice(kind, capsys):
    backend, commands, kube = kind
    backend.apply(HA)
    order = [
        (c[0], c[1]["kind"]) if c[0] == "apply" else (c[0],)
        for c in kube.calls
        if c[0] in ("apply", "create_secret", "deployment_status")
    ]
    assert order == [
        ("create_secret",),
        ("apply", "Deployment"),
        ("apply", "Service"),
        ("deployment_status",),  # 0/1 ready
        ("deployment_status",),  # 1/1 ready
        ("apply", "RayService"),
    ]
    (secret,) = [c for c in kube.calls if c[0] == "create_secret"]
    _, namespace, name, data, labels = secret
    assert (namespace, name, list(data)) == (NS, "redis-password", ["password"])
    assert PASSWORD.match(data["password"])  # 24 random bytes, hex: safe in $(REDIS_PASSWORD) and a URL
    assert labels == {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "rayservice-tutorial"}
    deployment, service = kube.applied("Deployment")[0], kube.applied("Service")[0]
    assert deployment["metadata"]["namespace"] == service["metadata"]["namespace"] == NS
    assert kube.applied("RayService")[0]["metadata"]["namespace"] == NS
    out = capsys.readouterr().out
    assert "Secret 'redis-password' created with a random password" in out
    assert "Applied ray-service-ha.yaml: RayService 'ray-serve-app'" in out
    assert backend._state()["redis"] is True


def test_the_password_is_never_on_a_command_line_in_output_or_on_disk(kind, capsys):
    backend, commands, kube = kind
    backend.apply(HA)
    password = sent_password(kube)
    kube.rayservices = [rayservice()]
    backend.ensure_port_forwards()
    backend.down(quiet=False)
    shown = capsys.readouterr()
    assert password not in shown.out + shown.err
    assert not any(password in " ".join(c) for c in commands.calls + commands.started)
    for path in backend.state_dir.rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path
    # Only the Secret carries it; Redis's Deployment and the RayService name the Secret.
    applied = [c[1] for c in kube.calls if c[0] == "apply"]
    assert not any(password in json.dumps(obj) for obj in applied)
    assert {o["kind"] for o in applied if "redis-password" in json.dumps(o)} == {"Deployment", "RayService"}


def test_a_second_apply_keeps_the_secret_redis_and_the_running_head_use(kind, capsys):
    backend, _, kube = kind
    backend.apply(HA)
    first = dict(kube.secrets[(NS, REDIS_SECRET)])
    backend.apply(HA)
    assert kube.secrets[(NS, REDIS_SECRET)] == first
    assert "Secret 'redis-password' already there (kept: Redis uses it)" in capsys.readouterr().out


def test_the_manifest_without_fault_tolerance_makes_no_redis(kind):
    backend, _, kube = kind
    backend.apply(HELLO)
    assert not [c for c in kube.calls if c[0] in ("create_secret", "deployment_status")]
    assert kube.applied("Deployment") == [] and kube.applied("Service") == []


def test_another_redis_is_the_users_own(kind, capsys):
    backend, _, kube = kind
    external = ha_variant(
        redisAddress="redis.example.com:6379",
        redisPassword={"valueFrom": {"secretKeyRef": {"name": "their-redis", "key": "pw"}}},
    )
    backend.apply(external)
    assert not [c for c in kube.calls if c[0] == "create_secret"] and kube.applied("Deployment") == []
    assert kube.applied("RayService")


def test_a_password_reference_the_tutorials_redis_cannot_satisfy_is_refused_first(kind):
    backend, _, kube = kind
    wrong = ha_variant(
        redisAddress="redis:6379", redisPassword={"valueFrom": {"secretKeyRef": {"name": "redis-pw", "key": "pw"}}}
    )
    with pytest.raises(BackendError, match=r"secretKeyRef: \{name: redis-password, key: password\}"):
        backend.apply(wrong)
    assert kube.calls == []


def test_redis_that_does_not_get_ready_stops_before_the_rayservice_with_its_pods_reasons(kind):
    from ..fakes import pod

    backend, _, kube = kind
    kube.deployment_polls_until_ready = 10**6
    kube.pods["app.kubernetes.io/name=redis"] = [
        pod("redis-7d9f-x1", "", "", "10.244.0.9", phase="Pending", waiting="CreateContainerConfigError")
    ]
    backend.ensure_redis = types.MethodType(
        lambda self, timeout=0.1: KubernetesBackend.ensure_redis(self, timeout=0.1), backend
    )
    with pytest.raises(TimeoutError) as info:
        backend.apply(HA)
    assert "Redis rayservice-tutorial/redis to be ready" in str(info.value)
    assert "pod redis-7d9f-x1: Pending CreateContainerConfigError" in str(info.value)
    assert kube.applied("RayService") == []


def test_every_namespace_gets_its_own_redis(tmp_path):
    commands = FakeCommands(tools={"kubectl"})
    alice, bob = FakeKube(), FakeKube()
    KubernetesBackend(namespace="alice", state_dir=tmp_path, commands=commands, kube=alice).apply(HA)
    KubernetesBackend(namespace="bob", state_dir=tmp_path, commands=commands, kube=bob).apply(HA)
    for kube, ns in ((alice, "alice"), (bob, "bob")):
        assert {c[1] for c in kube.calls if c[0] in ("create_secret", "deployment_status")} == {ns}
        assert {o["metadata"]["namespace"] for o in kube.applied("Deployment") + kube.applied("Service")} == {ns}
    assert sent_password(alice) != sent_password(bob)


def test_a_whole_ha_session_needs_only_the_listed_rights(tmp_path):
    kube = FakeKube()
    backend = KubernetesBackend(namespace="learner-01", state_dir=tmp_path, commands=FakeCommands(), kube=kube)
    backend.up(HA)
    backend.apply(HA)
    backend.leftovers()
    backend.down(quiet=True)
    for call in kube.calls:
        name = f"apply {call[1]['kind']}" if call[0] == "apply" else call[0]
        assert name in KUBEAPI_RIGHTS or name in ("crd_installed", "missing_rights", "apply Namespace"), name


def test_the_kubectl_command_that_shows_redis(kind):
    backend, _, _ = kind
    command = backend.kubectl.get_redis()
    assert command.text == (
        "kubectl --context kind-rayservice-tutorial get deployment/redis service/redis secret/redis-password "
        "-n rayservice-tutorial"
    )
    assert "secret" not in command.local or "0600" in command.local


def test_kind_loads_the_redis_image_with_the_others():
    assert redis_image() == "redis:7.0.15" and redis_image() in IMAGES


# -- cleanup: the RayService first (KubeRay's Redis cleanup Job needs Redis), then Redis --------------------


def test_delete_service_waits_for_the_rayservice_then_deletes_redis(kind):
    backend, _, kube = kind
    backend.apply(HA)
    backend.delete_service(timeout=5)
    names = [c[0] for c in kube.calls]
    gone = max(i for i, c in enumerate(kube.calls) if c[0] == "get_rayservice")
    assert names.index("delete_rayservice") < gone < names.index("delete_deployment")
    assert [c for c in kube.calls if c[0].startswith("delete_") and c[0] != "delete_rayservice"] == [
        ("delete_deployment", NS, "redis"),
        ("delete_kube_service", NS, "redis"),
        ("delete_secret", NS, "redis-password"),
    ]
    assert "redis" not in backend._state()


def test_down_deletes_the_rayservice_then_configmap_and_redis_and_leaves_nothing(tmp_path, capsys):
    kube = FakeKube()
    backend = KubernetesBackend(state_dir=tmp_path, commands=FakeCommands(tools={"kubectl"}), kube=kube)
    backend.up(HA)
    backend.apply(HA)
    backend.down()
    deletes = [c[0] for c in kube.calls if c[0].startswith("delete_")]
    assert deletes == [
        "delete_rayservice",
        "delete_configmap",
        "delete_deployment",
        "delete_kube_service",
        "delete_secret",
    ]
    assert "then Redis and its Secret 'redis-password'" in capsys.readouterr().out
    assert backend.leftovers() == [] and not backend.state_file.exists()


# -- the same on the KubeRay timeline: what the operator does with gcsFaultToleranceOptions -----------------


@pytest.fixture
def timeline(tmp_path, monkeypatch, request):
    """The kubernetes backend on the KubeRay timeline fake, with the HA manifest Ready; its waits sleep on the
    fake clock. Serve's API answers from the timeline: RUNNING once the cluster's head is back. Parametrized
    (indirect) with False: KubeRay v1.6.1, without the RayService finalizer."""
    kube = KubeRayTimeline(rayservice_finalizer=getattr(request, "param", True))
    backend = backend_on(kube, tmp_path, monkeypatch)
    backend.apply(HA)
    backend.wait_ready(timeout=600)
    yield backend, kube


def test_delete_head_pod_returns_once_the_new_head_is_ready_in_seconds_not_a_redeploy(timeline, capsys):
    backend, kube = timeline
    (old,) = [p["metadata"]["name"] for p in backend.ray_pods("head")]
    lost = backend.delete_head_pod()
    assert f"$ kubectl delete pod {old} --wait=false -n {NS}" in capsys.readouterr().out
    assert lost.pod == old and lost.head != old and lost.gcs_fault_tolerance is True
    # With GCS FT: the old pod's end, the new one's start and its GCS reading Redis back, not the
    # cluster_ready_seconds of a new deploy.
    expected = 2 * kube.termination_seconds + kube.pod_start_seconds + kube.gcs_recover_seconds
    assert lost.head_back_s == pytest.approx(expected, abs=2)
    assert lost.head_back_s < kube.cluster_ready_seconds


def test_kuberay_starts_the_head_on_the_redis_the_backend_made(timeline):
    backend, kube = timeline
    cluster = kube.clusters[backend.cluster_names()[0]]
    env = {e["name"]: e for e in kube.pod_env(cluster, "head")}
    # RAY_REDIS_ADDRESS names the Service the backend applied, REDIS_PASSWORD the Secret it created.
    assert env["RAY_REDIS_ADDRESS"]["value"] == "redis:6379" and ("Service", "redis") in kube.objects
    ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("redis-password", "password") and ("Secret", "redis-password") in kube.objects
    assert "value" not in env["REDIS_PASSWORD"]
    assert env["RAY_external_storage_namespace"]["value"] == cluster.uid
    assert kube.ray_start_params(cluster)["redis-password"] == "$REDIS_PASSWORD"
    assert kube.pod_env(cluster, "worker") == [{"name": "RAY_gcs_rpc_server_reconnect_timeout_s", "value": "600"}]
    (head,) = backend.ray_pods("head")
    assert head["metadata"]["annotations"]["ray.io/ft-enabled"] == "true"
    assert kube.redis_keys == {cluster.uid}  # the GCS keeps its tables in Redis


def test_the_head_lost_and_back_with_the_applications_kept_while_the_workers_serve(timeline, capsys):
    backend, kube = timeline
    cluster = backend.cluster_names()[0]
    deployed_at = kube.clusters[cluster].ready_at
    pods = Pods(kube)
    serve = follower(kube, pods, f"{HA.name}-serve-svc", 8000).start()
    head_svc = follower(kube, pods, f"{HA.name}-head-svc", 8265).start()
    try:
        (old_head,) = [p["metadata"]["name"] for p in backend.ray_pods("head")]
        # `kubectl delete pod <head>` as the lesson shows it, run through the timeline; then watch it heal.
        kube.kubectl(list(backend.kubectl.delete_pod(old_head).args))
        kube.advance(1)
        # As the host cluster showed it (tests/data/kuberay-host-recorded.json): until a new head pod runs,
        # KubeRay keeps the status it last saw; then it shows no application until the new head's Serve has
        # read them back from Redis, and stays Ready: the worker pods still serve.
        status = kube.get_rayservice(NS, HA.name)["status"]
        assert status["activeServiceStatus"]["applicationStatuses"]["hello"]["status"] == "RUNNING"
        kube.run_until(lambda: kube._head_running(kube.clusters[cluster]))
        status = kube.get_rayservice(NS, HA.name)["status"]
        assert status["activeServiceStatus"]["applicationStatuses"] == {}
        assert status["numServeEndpoints"] >= 1
        assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
        reached = get(serve.port)
        assert "-worker-" in reached and kube.cluster_of(reached) == cluster
        back = backend.wait_head_back(old_head, timeout=120)
        assert back["head"] != old_head and kube.cluster_of(back["head"]) == cluster  # same RayCluster
        assert 0 < back["head_ready_s"] <= back["serve_running_s"] < 60
        assert get(head_svc.port) == back["head"]  # the forward follows the Service to the new head
        assert kube.clusters[cluster].ready_at == deployed_at  # no new PUT: Serve read its apps back from Redis
        status = backend.status()
        assert status["activeServiceStatus"]["applicationStatuses"]["hello"]["status"] == "RUNNING"
    finally:
        serve.stop()
        head_svc.stop()
        pods.close()


@pytest.mark.parametrize("timeline", [True, False], indirect=True, ids=["v1.7.0", "v1.6.1-no-rayservice-finalizer"])
def test_delete_service_lets_kuberays_cleanup_job_empty_redis_before_redis_goes(timeline):
    backend, kube = timeline
    uid = kube.clusters[backend.cluster_names()[0]].uid
    started = kube.clock()
    backend.delete_service(timeout=300)
    assert kube.services == {} and kube.clusters == {}
    assert [outcome for _, _, outcome in kube.jobs] == ["complete"]
    assert uid not in kube.redis_keys  # the Job reached Redis: the keys are gone
    assert kube.clock() - started < 60
    deleted = [
        what
        for _, what in kube.history
        if what.endswith(" deleted") and what.split()[0] in ("Deployment", "Secret", "Service")
    ]
    assert deleted == ["Deployment redis deleted", "Service redis deleted", "Secret redis-password deleted"]
    assert ("Deployment", "redis") not in kube.objects and ("Secret", "redis-password") not in kube.objects


def test_down_waits_for_the_cleanup_job_then_removes_everything(timeline):
    backend, kube = timeline
    backend.down(quiet=True)
    assert [outcome for _, _, outcome in kube.jobs] == ["complete"]
    assert kube.objects == {} and kube.services == {} and kube.redis_keys == set()
    assert backend.leftovers() == []


@pytest.mark.parametrize(
    "first, seconds, outcome",
    [
        ("Deployment", 60, "failed: Redis unreachable"),  # 120 connection retries 0.5 s apart
        # The Job's pod cannot start; KubeRay gives up on the finalizer 300 s after the deletion.
        ("Secret", 300, "stuck: finalizer force-removed after 300 s (Secret redis-password missing)"),
        ("ConfigMap", 300, f"stuck: finalizer force-removed after 300 s (ConfigMap {APP_CODE_CONFIGMAP} missing)"),
    ],
)
def test_why_the_order_matters_redis_gone_first_holds_the_deletion(timeline, first, seconds, outcome):
    """What the backend avoids: delete Redis, its Secret or the app-code ConfigMap before the RayService, and
    KubeRay's cleanup Job cannot do its work; the RayService stays (Terminating) until the Job fails."""
    backend, kube = timeline
    name = {"Deployment": "redis", "Secret": "redis-password", "ConfigMap": APP_CODE_CONFIGMAP}[first]
    kube._delete_object(first, name)
    start = kube.clock()
    kube.delete_rayservice(NS, HA.name)
    kube.run_until(lambda: kube.get_rayservice(NS, HA.name) is None, limit=400)
    assert kube.clock() - start >= seconds
    assert [o for _, _, o in kube.jobs] == [outcome]


def test_without_fault_tolerance_no_finalizer_holds_the_deletion(tmp_path):
    kube = KubeRayTimeline()
    backend = KubernetesBackend(state_dir=tmp_path, commands=FakeCommands(), kube=kube)
    backend.apply(HELLO)
    kube.run_until(lambda: backend.cluster_names()[0] is not None)
    kube.delete_rayservice(NS, HELLO.name)
    assert kube.get_rayservice(NS, HELLO.name) is None and kube.jobs == []


# -- KubeAPI through the real client --------------------------------------------------------------------------


class SecretsServer(RecordingAPIServer):
    def __init__(self):
        super().__init__()
        self.existing: set[str] = set()

    def answer(self, method, path, body):
        if path == "/api/v1":
            code, listing = super().answer(method, path, body)
            for name, kind in (("secrets", "Secret"), ("services", "Service")):
                listing["resources"].append(
                    {"name": name, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get", "create"]}
                )
            return code, listing
        if method == "POST" and path.endswith("/secrets"):
            name = json.loads(body)["metadata"]["name"]
            if name in self.existing:
                return 409, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "AlreadyExists",
                    "code": 409,
                }
            self.existing.add(name)
            return 201, json.loads(body)
        if method == "DELETE" and "/services/" in path:  # the API server answers with the deleted Service
            return 200, {"kind": "Service", "apiVersion": "v1", "metadata": {"name": path.rsplit("/", 1)[1]}}
        if path.endswith("/deployments/redis"):
            return 200, {
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {"name": "redis", "generation": 2},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {}},
                "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1},
            }
        return super().answer(method, path, body)


def test_kubeapi_creates_the_secret_once_and_applies_redis(tmp_path, monkeypatch):
    from helpers.backends.kubeapi import KubeAPI

    assert "/api/v1" in RESOURCES
    server = SecretsServer()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path, server.url)))
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        client = KubeAPI(context="kind-rayservice-tutorial")
        labels = {"app.kubernetes.io/name": "redis"}
        assert client.create_secret(NS, "redis-password", {"password": "p4ss"}, labels) is True
        assert client.create_secret(NS, "redis-password", {"password": "other"}, labels) is False
        (post, _) = server.calls("POST")
        assert post["path"] == f"/api/v1/namespaces/{NS}/secrets"
        sent = json.loads(post["body"])
        assert sent["stringData"] == {"password": "p4ss"} and sent["metadata"]["labels"] == labels
        assert post["query"]["fieldManager"] == ["rayservice-tutorial"]
        for obj in redis_objects(NS):
            client.apply(obj)
        patches = [(p["path"], p["content_type"]) for p in server.calls("PATCH")]
        assert patches == [
            (f"/apis/apps/v1/namespaces/{NS}/deployments/redis", "application/apply-patch+yaml"),
            (f"/api/v1/namespaces/{NS}/services/redis", "application/apply-patch+yaml"),
        ]
        assert client.deployment_status(NS, "redis") == {
            "generation": 2,
            "observed_generation": 2,
            "replicas": 1,
            "ready_replicas": 1,
            "updated_replicas": 1,
        }
        assert client.deployment_status(NS, "other") is None
        client.delete_deployment(NS, "redis")
        client.delete_kube_service(NS, "redis")
        client.delete_secret(NS, "redis-password")
        assert [d["path"].rsplit("/", 2)[-2:] for d in server.calls("DELETE")] == [
            ["deployments", "redis"],
            ["services", "redis"],
            ["secrets", "redis-password"],
        ]
    finally:
        server.close()


def test_a_refused_secret_names_the_right_and_never_echoes_the_body(tmp_path, monkeypatch):
    from helpers.backends.kubeapi import ForbiddenError, KubeAPI

    class Refusing(SecretsServer):
        def answer(self, method, path, body):
            if method == "POST":
                return 403, {"kind": "Status", "status": "Failure", "reason": "Forbidden", "message": body, "code": 403}
            return super().answer(method, path, body)

    server = Refusing()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path, server.url)))
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        client = KubeAPI(context="kind-rayservice-tutorial")
        with pytest.raises(ForbiddenError) as info:
            client.create_secret(NS, "redis-password", {"password": "s3cr3t-value"}, {})
        assert "`create` `secrets` in namespace `rayservice-tutorial`" in str(info.value)
        assert "s3cr3t-value" not in str(info.value)
    finally:
        server.close()


# -- manifests/redis/: its structure -----------------------------------------------------------------------


def _redis(kind: str) -> dict:
    (obj,) = [o for o in redis_objects(NS) if o["kind"] == kind]
    return obj


def test_redis_manifests_are_what_the_kubernetes_api_accepts():
    from kubernetes.client import V1Deployment, V1Service

    objects = redis_objects(NS)
    assert [(o["apiVersion"], o["kind"]) for o in objects] == [("apps/v1", "Deployment"), ("v1", "Service")]
    for model, obj in ((V1Deployment, _redis("Deployment")), (V1Service, _redis("Service"))):
        # The client's models type-check every field; a field they do not know is dropped on the way back.
        assert model.from_dict(obj).model_dump(by_alias=True, exclude_none=True) == obj
    assert all(o["metadata"]["namespace"] == NS for o in objects)


def test_redis_labels_selector_service_and_port_fit_together():
    deployment, service = _redis("Deployment"), _redis("Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items() and service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["metadata"]["labels"] == service["metadata"]["labels"] == pod_labels
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = service["spec"]["ports"]
    assert service["spec"]["type"] == "ClusterIP" and port["port"] == 6379
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    host, _, number = gcs_fault_tolerance(HA)["redisAddress"].partition(":")
    assert (host, int(number)) == (service["metadata"]["name"], port["port"])
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_redis_takes_its_password_from_the_secret_the_backend_makes_and_the_ha_manifest_names():
    (container,) = _redis("Deployment")["spec"]["template"]["spec"]["containers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert refs == {
        "REDIS_PASSWORD": {"name": "redis-password", "key": "password"},
        "REDISCLI_AUTH": {"name": "redis-password", "key": "password"},
    }
    ha_ref = gcs_fault_tolerance(HA)["redisPassword"]["valueFrom"]["secretKeyRef"]
    assert ha_ref == refs["REDIS_PASSWORD"] and ha_ref["name"] == REDIS_SECRET
    # --requirepass reads the env var (the kubelet expands $(VAR)); no literal password on any command line.
    args = container["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert "-a" not in container["readinessProbe"]["exec"]["command"][-1].split()  # redis-cli uses REDISCLI_AUTH
    assert "password" not in json.dumps(container["command"] + args).lower().replace("redis_password", "")
    # No Secret with data is committed anywhere in manifests/.
    for path in config.MANIFESTS_DIR.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (
                isinstance(doc, dict) and doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData"))
            ), path


def test_redis_is_pinned_small_probed_and_not_root():
    spec = _redis("Deployment")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+", container["image"])
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert container["readinessProbe"]["exec"]["command"] == ["sh", "-c", "redis-cli ping | grep -qx PONG"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False}


def test_the_workshop_quota_leaves_room_for_redis_beside_the_ha_cluster():
    """On a shared cluster, lesson 04b's HA part: the Ray pods, Redis, and a replacement head pod while the old
    one terminates must fit the namespace's ResourceQuota (sized by lesson 05's two RayClusters)."""
    from helpers import preflight

    quota = {k: quantities.gib(v) if k.endswith("memory") else float(v) for k, v in preflight.namespace_quota().items()}
    cluster = HA.cluster_config
    groups = [(cluster["headGroupSpec"], 1)] + [(g, int(g.get("replicas", 1))) for g in cluster["workerGroupSpecs"]]
    need = {key: 0.0 for key in quota}
    for group, count in groups + [(cluster["headGroupSpec"], 1)]:  # + the replacement head
        for key, value in preflight.pod_resources(group["template"]).items():
            need[key] += value * count
    for key, value in preflight.pod_resources(_redis("Deployment")["spec"]["template"]).items():
        need[key] += value
    need["pods"] = sum(n for _, n in groups) + 2  # + Redis + the replacement head
    assert all(need[key] <= quota[key] for key in quota), (need, quota)


def test_docker_memory_for_the_ha_manifest_counts_redis():
    from helpers import preflight

    assert preflight.redis_memory_gib(HA) == 0.25 and preflight.redis_memory_gib(HELLO) == 0.0
    assert preflight.memory_needed(HA, upgrade=False) == preflight.memory_needed(HELLO, upgrade=False) + 0.25
