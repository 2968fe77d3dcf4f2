"""The kind and kubernetes backends, against recorders of every command and API call.

Names, ports, selectors and field paths are KubeRay v1.7.0's (ray-operator/controllers/ray/utils/
constant.go and util.go, apis/ray/v1/rayservice_types.go); a drift makes these tests fail.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from helpers import config, display, procs
from helpers.backends import BackendError, DeployFailedError, NotRunningError, get_backend
from helpers.backends.faults import ReplicaKilled, WorkerLost
from helpers.backends.kind import IMAGES, KIND_CONFIG, KindBackend
from helpers.backends.kube import APP_CODE_CONFIGMAP, KubernetesBackend
from helpers.manifests import load_manifest

from ..fakes import FakeCommands, FakeKube, pod, rayservice

PORTS = config.Ports(serve=29000, dashboard=29265, metrics=29080)
CTX = ["kubectl", "--context", "kind-rayservice-tutorial"]
NS = ["-n", "rayservice-tutorial"]
FORWARD = [sys.executable, "-m", "helpers.backends.forward", "--context", "kind-rayservice-tutorial"]
HELLO = load_manifest("manifests/ray-service.yaml")
DOCKER_OK = {("docker", "info"): (0, "28.2.2 25769803776", "")}


class StubServeAPI:
    """Serve's details as the dashboard (through the head port-forward) would answer."""

    def __init__(self, details):
        self._details = details

    def details(self):
        return self._details


SERVE_DETAILS = {
    "controller_info": {"node_id": "n-head"},
    "proxies": {},
    "applications": {
        "hello": {
            "status": "RUNNING",
            "route_prefix": "/hello",
            "deployments": {
                "Hello": {
                    "status": "HEALTHY",
                    "target_num_replicas": 2,
                    "replicas": [
                        {
                            "state": "RUNNING",
                            "node_ip": "10.244.0.7",
                            "node_id": "n-head0123",
                            "pid": 321,
                            "replica_id": "abc",
                        },
                        {
                            "state": "RUNNING",
                            "node_ip": "10.244.0.8",
                            "node_id": "n-work0123",
                            "pid": 654,
                            "replica_id": "def",
                        },
                    ],
                }
            },
        }
    },
}


@pytest.fixture
def kind(tmp_path):
    commands = FakeCommands(responses=DOCKER_OK)
    kube = FakeKube()
    backend = KindBackend(state_dir=tmp_path, ports=PORTS, commands=commands, kube=kube)
    backend.serve.details = lambda: SERVE_DETAILS  # the stand-in forwards listen, but no dashboard answers
    yield backend, commands, kube
    backend.stop_port_forwards()


def test_get_backend_knows_all_three():
    assert isinstance(get_backend("kind", namespace="x"), KindBackend)
    assert type(get_backend("kubernetes", namespace="x")) is KubernetesBackend
    with pytest.raises(BackendError, match="one of 'local', 'kind', 'kubernetes'"):
        get_backend("minikube")


def test_preflight_names_each_missing_tool_and_nothing_starts(tmp_path):
    commands = FakeCommands(
        tools={"docker", "kubectl"}, responses={("docker", "info"): (1, "", "Cannot connect to the Docker daemon")}
    )
    kube = FakeKube()
    backend = KindBackend(state_dir=tmp_path, commands=commands, kube=kube)
    with pytest.raises(BackendError) as info:
        backend.up(HELLO)
    message = str(info.value)
    assert "✗ Docker daemon reachable: Cannot connect to the Docker daemon" in message
    assert "✗ kind installed: not found: install kind" in message
    assert "✗ helm installed: not found: install Helm 3" in message
    assert "kubectl installed" not in message  # present: not listed among the failures
    assert commands.commands_of("kind") == [] and commands.commands_of("helm") == []
    assert kube.calls == []


def test_memory_below_what_the_lesson_needs_fails_and_says_how_to_raise_it():
    from helpers import preflight

    commands = FakeCommands(responses={("docker", "info"): (0, "28.2.2 4294967296", "")})  # 4 GiB
    checks = preflight.kind_checks(commands, HELLO)
    memory = next(c for c in checks if c.name.startswith("memory"))
    # head 3Gi + one worker 2Gi + the operator 0.5 GiB + the kind node 1 GiB
    assert memory.name == "memory for Docker >= 6.5 GiB (ray-serve-app)" and not memory.ok
    assert "Docker has 4.0 GiB, the lesson needs 6.5 GiB" in preflight.report([memory])
    assert "Docker Desktop -> Settings -> Resources -> Memory" in memory.detail


@pytest.mark.skipif(
    subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if __import__("shutil").which("docker")
    else False,
    reason="a Docker daemon is reachable here, so preflight would pass",
)
def test_make_run_backend_kind_stops_at_preflight_on_this_machine():
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--backend", "kind"],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Preflight for BACKEND=kind failed" in result.stderr and "Docker daemon reachable" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_up_creates_the_cluster_installs_kuberay_and_ships_the_app_code(kind):
    backend, commands, kube = kind
    commands.responses[("docker", "image", "inspect", config.RAY_IMAGE)] = (1, "", "No such image")
    backend.up(HELLO)
    assert ["kind", "get", "clusters"] in commands.calls
    assert [
        "kind",
        "create",
        "cluster",
        "--name",
        "rayservice-tutorial",
        "--config",
        str(KIND_CONFIG),
        "--image",
        "kindest/node:v1.34.0",
        "--wait",
        "180s",
    ] in commands.calls
    # Only images Docker already has are loaded; the Ray image is pulled by the node instead.
    assert [c for c in commands.commands_of("kind") if c[1] == "load"] == [
        ["kind", "load", "docker-image", image, "--name", "rayservice-tutorial"]
        for image in ("quay.io/kuberay/operator:v1.7.0", "redis:7.0.15")
    ]
    assert commands.commands_of("helm") == [
        ["helm", "version", "--short"],  # preflight
        ["helm", "repo", "add", "kuberay", "https://ray-project.github.io/kuberay-helm/", "--force-update"],
        [
            "helm",
            "--kube-context",
            "kind-rayservice-tutorial",
            "upgrade",
            "--install",
            "kuberay-operator",
            "kuberay/kuberay-operator",
            "--version",
            "1.7.0",
            "--namespace",
            "kuberay-system",
            "--create-namespace",
        ],
    ]
    assert ("deployment_available", "kuberay-system", "kuberay-operator") in kube.calls
    (namespace,) = kube.applied("Namespace")
    assert namespace["metadata"]["name"] == "rayservice-tutorial"
    (configmap,) = kube.applied("ConfigMap")
    assert configmap["metadata"] == {
        "name": "rayservice-tutorial-apps",
        "namespace": "rayservice-tutorial",
        "labels": {"app.kubernetes.io/part-of": "rayservice-tutorial"},
    }
    assert configmap["data"] == {p.name: p.read_text() for p in config.APPS_DIR.glob("*.py")}


def test_an_existing_cluster_is_reused(kind):
    backend, commands, kube = kind
    commands.responses[("kind", "get", "clusters")] = (0, "other\nrayservice-tutorial\n", "")
    backend.up(HELLO)
    assert not any(c[:3] == ["kind", "create", "cluster"] for c in commands.calls)


@pytest.mark.parametrize("path", sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml")), ids=lambda p: p.name)
def test_every_manifest_mounts_the_app_code_configmap(path):
    cluster = load_manifest(path).cluster_config
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        spec = group["template"]["spec"]
        (volume,) = spec["volumes"]
        assert volume["configMap"]["name"] == APP_CODE_CONFIGMAP
        container = spec["containers"][0]
        (mount,) = container["volumeMounts"]
        assert (mount["name"], mount["mountPath"]) == (volume["name"], "/home/ray/apps")
        assert {"name": "PYTHONPATH", "value": "/home/ray/apps"} in container["env"]
        assert container["image"] == config.RAY_IMAGE


def test_apply_is_a_server_side_apply_into_the_namespace(kind, capsys):
    backend, _, kube = kind
    backend.apply(HELLO)
    (obj,) = kube.applied("RayService")
    assert (obj["apiVersion"], obj["metadata"]["name"], obj["metadata"]["namespace"]) == (
        "ray.io/v1",
        "ray-serve-app",
        "rayservice-tutorial",
    )
    assert obj["spec"]["serveConfigV2"] == HELLO.raw["spec"]["serveConfigV2"]
    assert "namespace" not in HELLO.raw["metadata"]  # the manifest itself is untouched
    assert "Applied ray-service.yaml: RayService 'ray-serve-app' with applications hello." in capsys.readouterr().out


def test_status_reads_the_custom_resource_and_adds_replica_counts(kind):
    backend, _, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [rayservice()]
    backend.serve = StubServeAPI(SERVE_DETAILS)
    backend.ensure_port_forwards()
    status = backend.status()
    assert ("get_rayservice", "rayservice-tutorial", "ray-serve-app") in kube.calls
    assert (
        display.status_table(status).splitlines()[0] == "RayService ray-serve-app: Ready=True (NonZeroServeEndpoints)"
    )
    assert "hello        RUNNING     Hello       HEALTHY  2/2" in display.status_table(status)
    assert display.route_table(status).splitlines()[2].split() == ["/hello", "hello", "RUNNING", "2"]


def test_wait_ready_waits_for_the_new_generation_then_forwards_ports(kind):
    backend, commands, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [
        rayservice(generation=2, observed=1),
        rayservice(generation=2, observed=2, ready=False),
        rayservice(generation=2, observed=2),
    ]
    backend.wait_ready(timeout=30)
    assert [c for c in kube.calls if c[0] == "get_rayservice"].__len__() >= 3
    assert commands.started == [
        FORWARD + ["port-forward", "--address", "127.0.0.1", "svc/ray-serve-app-head-svc", "29265:8265"] + NS,
        FORWARD + ["port-forward", "--address", "127.0.0.1", "svc/ray-serve-app-serve-svc", "29000:8000"] + NS,
        FORWARD + ["port-forward", "--address", "127.0.0.1", "svc/ray-serve-app-head-svc", "29080:8080"] + NS,
    ]
    # The stand-in forwards really listen: on loopback only.
    assert {port for _, port, _ in backend.listeners()} == {29000, 29265, 29080}
    assert backend.metrics_urls() == ["http://127.0.0.1:29080/metrics"]
    commands.responses[("kubectl", "config", "view")] = (0, "https://127.0.0.1:41234", "")
    assert backend.listening_addresses() == ["127.0.0.1"]
    # Started once, reused afterwards.
    backend.ensure_port_forwards()
    assert len(commands.started) == 3


def test_a_dead_port_forward_is_restarted(kind):
    backend, commands, kube = kind
    backend.apply(HELLO)
    backend.ensure_port_forwards()
    serve_pid = backend._state()["forwards"]["serve"]
    procs.stop_groups([serve_pid], grace=1)  # e.g. the pod behind it was deleted
    backend.ensure_port_forwards()
    assert (
        len(commands.started) == 4 and commands.started[-1][-4:] == ["svc/ray-serve-app-serve-svc", "29000:8000"] + NS
    )


def test_wait_ready_surfaces_deploy_failed(kind):
    backend, _, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [rayservice(app_status="DEPLOY_FAILED", message="Traceback...\nModuleNotFoundError: nope")]
    with pytest.raises(DeployFailedError, match="Application 'hello' is DEPLOY_FAILED: ModuleNotFoundError: nope"):
        backend.wait_ready(timeout=30)


def test_a_failure_of_the_previous_spec_is_not_the_new_ones(kind):
    """After rolling back from a failed update, the status shows the old DEPLOY_FAILED until the operator has seen
    the new spec, and for a reconcile after (seen on the host cluster): wait_ready waits past it."""
    backend, _, kube = kind
    backend.apply(HELLO)
    old_failure = {"app_status": "DEPLOY_FAILED", "message": "AttributeError: no_such_app"}
    kube.rayservices = [
        rayservice(generation=3, observed=2, **old_failure),  # the operator has not seen the rollback yet
        rayservice(generation=3, observed=3, **old_failure),  # seen, with the last reconcile's statuses
        rayservice(generation=3, observed=3, app_status="DEPLOYING", ready=False),
        rayservice(generation=3, observed=3),
    ]
    backend.wait_ready(timeout=60)


def test_wait_ready_timeout_diagnoses_pods_events_and_apps(kind):
    backend, _, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [rayservice(ready=False, app_status="DEPLOYING", message="Deploying app 'hello'.")]
    kube.pods["ray.io/is-ray-node=yes"] = [
        pod(
            "ray-serve-app-abcde-head-x1",
            "headgroup",
            "head",
            "10.244.0.7",
            phase="Pending",
            waiting="ImagePullBackOff",
        )
    ]
    kube.events = [
        {
            "type": "Warning",
            "reason": "Failed",
            "message": "Back-off pulling image",
            "involved_object": {"kind": "Pod", "name": "ray-serve-app-abcde-head-x1"},
        }
    ]
    with pytest.raises(TimeoutError) as info:
        backend.wait_ready(timeout=0.1)
    text = str(info.value)
    assert "pod ray-serve-app-abcde-head-x1: Pending ImagePullBackOff" in text
    assert "event Pod/ray-serve-app-abcde-head-x1: Failed: Back-off pulling image" in text
    # Serve's own message comes first, then a short status table, then the pods and events.
    assert text.index("What Serve says:\n  hello DEPLOYING: Deploying app 'hello'.") < text.index("What the cluster")
    assert "application  app status" in text


def test_recent_warnings_are_the_newest_by_time_not_by_name(kind):
    import datetime as dt

    from helpers.backends.kubeapi import newest_first

    t0 = dt.datetime(2026, 11, 29, 7, 0, tzinfo=dt.timezone.utc)
    events = [  # as the API lists them: sorted by name
        {"metadata": {"name": "a.1"}, "last_timestamp": t0 + dt.timedelta(minutes=5)},
        {"metadata": {"name": "b.2"}, "last_timestamp": None, "event_time": t0 + dt.timedelta(minutes=9)},
        {"metadata": {"name": "c.3"}, "last_timestamp": t0},
    ]
    assert [e["metadata"]["name"] for e in newest_first(events)] == ["b.2", "a.1", "c.3"]


def test_faults_use_kuberay_labels(kind, capsys):
    backend, commands, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [rayservice(active="ray-serve-app-abcde")]
    head = "ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=head"
    worker = "ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=worker"
    kube.pods[head] = [pod("ray-serve-app-abcde-head-x1", "headgroup", "head", "10.244.0.7")]
    kube.pods[worker] = [
        pod("ray-serve-app-abcde-workers-worker-b2", "workers", "worker", "10.244.0.8"),
        pod("ray-serve-app-abcde-workers-worker-a1", "workers", "worker", "10.244.0.9"),
    ]
    kube.pods["ray.io/cluster=ray-serve-app-abcde"] = kube.pods[head] + kube.pods[worker]
    capsys.readouterr()
    # Each fault runs the builder's kubectl command and shows exactly that command.
    backend.serve = StubServeAPI(SERVE_DETAILS)
    assert backend.lose_worker(0).pod == "ray-serve-app-abcde-workers-worker-a1"
    delete_worker = CTX + ["delete", "pod", "ray-serve-app-abcde-workers-worker-a1", "--wait=false"] + NS
    assert commands.calls[-1] == delete_worker
    assert capsys.readouterr().out.splitlines()[0] == "$ " + shlex.join(delete_worker)
    delete_head = CTX + ["delete", "pod", "ray-serve-app-abcde-head-x1", "--wait=false"] + NS
    new_head = [pod("ray-serve-app-abcde-head-z9", "headgroup", "head", "10.244.0.10")]
    commands.responses[tuple(delete_head)] = lambda args: (kube.pods.update({head: new_head}), (0, "", ""))[1]
    # lose_worker(i): worker pod i by name, with the replicas Serve placed on it (matched by the pod's IP).
    lost = backend.lose_worker(1)
    assert lost == WorkerLost(pod="ray-serve-app-abcde-workers-worker-b2", node=lost.pod, replicas=["def"])
    with pytest.raises(BackendError, match="There is no worker pod 2: the active cluster has 2"):
        backend.lose_worker(2)
    capsys.readouterr()
    # KubeRay's new head pod (a new name) is waited for: the head is back when it is ready.
    lost = backend.delete_head_pod()
    assert lost.replicas == ["abc"]  # the replica whose node IP is the head pod's
    assert (lost.pod, lost.head, lost.gcs_fault_tolerance) == (
        "ray-serve-app-abcde-head-x1",
        "ray-serve-app-abcde-head-z9",
        False,
    )
    assert lost.head_back_s >= 0
    assert delete_head in commands.calls
    assert capsys.readouterr().out.splitlines()[0] == "$ " + shlex.join(delete_head)
    kube.pods[head] = [pod("ray-serve-app-abcde-head-x1", "headgroup", "head", "10.244.0.7")]
    assert not [c for c in kube.calls if c[0] == "delete_pod"]  # kubectl, not a second API path
    backend.serve = StubServeAPI(SERVE_DETAILS)
    killed = backend.kill_replica("hello")
    assert killed == ReplicaKilled(pod="ray-serve-app-abcde-head-x1", pid=321, replica="abc", node="n-head01")
    # The namespace goes before `--`: kubectl hands everything after it to the command.
    kill = CTX + ["exec", *NS, "ray-serve-app-abcde-head-x1", "--", "kill", "-9", "321"]
    assert commands.calls[-1] == kill
    assert capsys.readouterr().out.splitlines()[0] == "$ " + shlex.join(kill)
    backend.kill_proxy()
    pkill = CTX + ["exec", *NS, "ray-serve-app-abcde-head-x1", "--", "pkill", "-9", "-f", "ray::ProxyActor"]
    assert commands.calls[-1] == pkill
    assert capsys.readouterr().out.splitlines()[0] == "$ " + shlex.join(pkill)
    table = backend.nodes_table().splitlines()
    assert table[2].split() == ["ray-serve-app-abcde-head-x1", "headgroup", "Running"]
    assert table[3].split() == ["ray-serve-app-abcde-workers-worker-a1", "workers", "Running"]


def test_the_heads_proxy_is_killed_only_once_a_worker_pod_is_behind_the_serve_service(kind, capsys):
    backend, commands, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [rayservice(active="ray-serve-app-abcde")]
    head = "ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=head"
    kube.pods[head] = [pod("ray-serve-app-abcde-head-x1", "headgroup", "head", "10.244.0.7")]
    service = "ray-serve-app-serve-svc"
    # Only the head behind the Service (the worker pod's proxy not ready yet): the wait ends in a clear error.
    kube.behind[service] = ["ray-serve-app-abcde-head-x1"]
    with pytest.raises(BackendError, match="No worker pod is behind ray-serve-app-serve-svc .*max_replicas_per_node"):
        backend.wait_for_another_proxy(timeout=0.6)
    # A worker pod joins it: the wait returns.
    kube.behind[service] = ["ray-serve-app-abcde-head-x1", "ray-serve-app-abcde-workers-worker-a1"]
    assert backend.wait_for_another_proxy(timeout=5) < 5
    assert ("pods_behind", "rayservice-tutorial", service) in kube.calls


def test_upgrade_changes_the_cluster_config_and_shows_both_clusters(kind, capsys):
    backend, commands, kube = kind
    kube.rayservices = [rayservice(active="ray-serve-app-abcde", pending="ray-serve-app-fghij")]
    backend.upgrade_cluster(HELLO, revision="2")
    # While both clusters exist, the lesson shows `kubectl get rayclusters`: the command that ran.
    assert commands.calls[-1] == CTX + ["get", "rayclusters"] + NS
    assert "$ " + shlex.join(CTX + ["get", "rayclusters"] + NS) in capsys.readouterr().out.splitlines()
    (obj,) = kube.applied("RayService")
    cluster = obj["spec"]["rayClusterConfig"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        assert {"name": "TUTORIAL_CLUSTER_REVISION", "value": "2"} in group["template"]["spec"]["containers"][0]["env"]
    assert obj["spec"]["serveConfigV2"] == HELLO.raw["spec"]["serveConfigV2"]
    kube.rayservices = [rayservice(active="ray-serve-app-abcde", pending="ray-serve-app-fghij")]
    assert backend.cluster_names() == ("ray-serve-app-abcde", "ray-serve-app-fghij")


def test_calls_before_apply_say_what_to_do(kind):
    backend, _, _ = kind
    with pytest.raises(NotRunningError, match="02_deploy_rayservice"):
        backend.status()
    assert "KubeRay creates them when the RayService is applied" in backend.nodes_table()


def test_down_deletes_the_kind_cluster_and_stops_the_forwards(kind):
    backend, commands, kube = kind
    backend.apply(HELLO)
    backend.ensure_port_forwards()
    commands.responses[("kind", "get", "clusters")] = (0, "rayservice-tutorial\n", "")
    assert backend.down(quiet=True) == 3
    assert backend.our_processes() == []
    assert commands.calls[-1] == ["kind", "delete", "cluster", "--name", "rayservice-tutorial"]


def test_workshop_prep_pulls_and_loads_every_image(kind):
    backend, commands, _ = kind
    assert backend.workshop_prep() == list(IMAGES)
    for image in IMAGES:
        assert ["docker", "pull", image] in commands.calls
        assert ["kind", "load", "docker-image", image, "--name", "rayservice-tutorial"] in commands.calls
    assert config.RAY_IMAGE == "rayproject/ray:2.55.1"


def test_kubernetes_backend_uses_the_current_context_and_the_learners_namespace(tmp_path):
    commands = FakeCommands(tools={"kubectl"})
    alice, bob = FakeKube(), FakeKube()
    a = KubernetesBackend(namespace="alice", state_dir=tmp_path, commands=commands, kube=alice)
    b = KubernetesBackend(namespace="bob", state_dir=tmp_path, commands=commands, kube=bob)
    a.up(HELLO)
    b.up(HELLO)
    a.apply(HELLO)
    assert [c[0] for c in commands.calls] == ["kubectl"] * len(commands.calls)  # no kind, helm or docker
    assert ["kubectl", "get", "--raw", "/version"] in commands.calls
    assert alice.applied("RayService")[0]["metadata"]["namespace"] == "alice"
    assert bob.applied("RayService") == []
    assert [c["metadata"]["namespace"] for c in bob.applied("ConfigMap")] == ["bob"]
    assert a.state_file != b.state_file
    a.down(quiet=True)
    assert ("delete_rayservice", "alice", "ray-serve-app") in alice.calls
    assert ("delete_configmap", "alice", "rayservice-tutorial-apps") in alice.calls
    assert not any(c[0].startswith("delete") for c in bob.calls)


def test_kubernetes_backend_without_the_operator_says_how_to_install_it(tmp_path):
    backend = KubernetesBackend(state_dir=tmp_path, commands=FakeCommands(tools={"kubectl"}), kube=FakeKube(crd=False))
    with pytest.raises(BackendError, match="KubeRay operator is not installed.*helm install kuberay-operator"):
        backend.up(HELLO)


def test_install_monitoring_prometheus_podmonitors_and_ray_dashboards(tmp_path):
    import json as _json

    ports = config.Ports(serve=29000, dashboard=29265, metrics=29080, grafana=29300, prometheus=29090)
    commands = FakeCommands(responses=DOCKER_OK)

    def copy_dashboards(args):  # `kubectl cp <head>:/tmp/ray/.../dashboards <dir>` writes the JSON files
        from pathlib import Path

        Path(args[args.index("cp") + 2], "serve_grafana_dashboard.json").write_text(_json.dumps({"title": "Serve"}))
        return (0, "", "")

    commands.responses[(*CTX, "cp")] = copy_dashboards
    kube = FakeKube()
    backend = KindBackend(state_dir=tmp_path, ports=ports, commands=commands, kube=kube)
    backend.apply(HELLO)
    kube.rayservices = [rayservice(active="ray-serve-app-abcde")]
    kube.pods["ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=head"] = [
        pod("ray-serve-app-abcde-head-x1", "headgroup", "head", "10.244.0.7")
    ]
    try:
        urls = backend.install_monitoring()
        assert [
            "helm",
            "repo",
            "add",
            "prometheus-community",
            "https://prometheus-community.github.io/helm-charts",
            "--force-update",
        ] in commands.calls
        install = next(c for c in commands.calls if "upgrade" in c and "prometheus" in c)
        assert install[install.index("--version") + 1] == config.PROMETHEUS_STACK_VERSION
        assert install[install.index("--namespace") + 1] == "prometheus-system"
        assert install[install.index("--values") + 1].endswith("manifests/monitoring/values.yaml")
        monitors = kube.applied("PodMonitor")
        assert [m["metadata"]["name"] for m in monitors] == ["ray-head-monitor", "ray-workers-monitor"]
        assert all(m["spec"]["namespaceSelector"]["matchNames"] == ["rayservice-tutorial"] for m in monitors)
        assert [m["spec"]["selector"]["matchLabels"]["ray.io/node-type"] for m in monitors] == ["head", "worker"]
        assert all(m["spec"]["podMetricsEndpoints"][0]["port"] == "metrics" for m in monitors)
        (dashboards,) = [c for c in kube.applied("ConfigMap") if c["metadata"]["name"] == "ray-serve-grafana-dashboard"]
        assert dashboards["metadata"]["labels"] == {"grafana_dashboard": "1"}
        assert list(dashboards["data"]) == ["serve_grafana_dashboard.json"]
        cp = next(c for c in commands.calls if "cp" in c)
        assert (
            cp[cp.index("cp") + 1] == "ray-serve-app-abcde-head-x1:/tmp/ray/session_latest/metrics/grafana/dashboards"
        )
        assert urls == {"grafana": "http://127.0.0.1:29300", "prometheus": "http://127.0.0.1:29090"}
        assert commands.started[-1][-4:] == [
            "svc/prometheus-kube-prometheus-prometheus",
            "29090:9090",
            "-n",
            "prometheus-system",
        ]
        assert "--address" in commands.started[-1] and "127.0.0.1" in commands.started[-1]
    finally:
        backend.stop_port_forwards()
    assert backend.our_processes() == []


def test_dashboard_token_comes_from_the_secret_kuberay_made(kind):
    import base64

    backend, _, kube = kind
    assert HELLO.auth_mode == "token"
    backend.apply(HELLO)
    kube.rayservices = [rayservice(active="ray-serve-app-abcde")]
    kube.secrets[("rayservice-tutorial", "ray-serve-app-abcde")] = {
        "auth_token": base64.b64encode(b"s3cret\n").decode()
    }
    assert backend.token() == "s3cret"
    assert backend.serve._headers() == {"Authorization": "Bearer s3cret"}
    backend.token()
    assert [c for c in kube.calls if c[0] == "read_secret"] == [
        ("read_secret", "rayservice-tutorial", "ray-serve-app-abcde")
    ]


def test_no_authoptions_no_token_and_no_secret_read(kind):
    from helpers.manifests import validate

    backend, _, kube = kind
    raw = {**HELLO.raw, "spec": {**HELLO.raw["spec"]}}
    raw["spec"]["rayClusterConfig"] = {k: v for k, v in HELLO.cluster_config.items() if k != "authOptions"}
    manifest = validate(raw)
    assert manifest.auth_mode == "disabled"
    backend.apply(manifest)
    assert backend.token() is None and not [c for c in kube.calls if c[0] == "read_secret"]


def test_one_configmap_per_grafana_dashboard_each_below_1_mib():
    import json as _json

    from helpers.backends.kube_monitoring import CONFIGMAP_LIMIT, dashboard_configmaps

    # Ray ships several dashboards of a few hundred KiB each: together they pass the limit.
    big = {
        f"{name}_grafana_dashboard.json": _json.dumps({"title": name, "panels": ["x" * 300_000]})
        for name in ("default", "serve", "serve_deployment", "data")
    }
    assert sum(len(t) for t in big.values()) > CONFIGMAP_LIMIT
    maps = dashboard_configmaps(big, "prometheus-system")
    assert len(maps) == 4 and len({m["metadata"]["name"] for m in maps}) == 4
    for m in maps:
        assert len(_json.dumps(m).encode()) < CONFIGMAP_LIMIT
        assert m["metadata"]["labels"] == {"grafana_dashboard": "1"} and len(m["data"]) == 1
    with pytest.raises(BackendError, match="huge_grafana_dashboard.json is .* too big"):
        dashboard_configmaps({"huge_grafana_dashboard.json": "x" * CONFIGMAP_LIMIT}, "prometheus-system")


def test_replace_cluster_returns_once_the_new_raycluster_is_active(kind, capsys):
    """Adding gcsFaultToleranceOptions changes rayClusterConfig: KubeRay builds a new RayCluster next to the
    old one. replace_cluster waits until the Services point at the new one, so a fault that follows reaches it."""
    backend, commands, kube = kind
    backend.apply(HELLO)
    kube.rayservices = [
        rayservice(active="ray-serve-app-abcde"),  # before the apply
        rayservice(active="ray-serve-app-abcde", pending="ray-serve-app-fghij"),  # building
        rayservice(active="ray-serve-app-abcde", pending="ray-serve-app-fghij"),
        rayservice(active="ray-serve-app-fghij"),  # promoted
    ]
    backend.replace_cluster(HELLO, timeout=30)
    assert backend.cluster_names() == ("ray-serve-app-fghij", None)
    assert commands.calls[-1] == CTX + ["get", "rayclusters"] + NS
    assert len(kube.applied("RayService")) == 2  # the first apply, then the new rayClusterConfig


def test_replace_cluster_without_wait_old_returns_while_the_old_pods_are_still_there(kind, capsys):
    """A lesson's last replacement (04b's Step 7) measures nothing after it: it need not wait the minute KubeRay
    keeps the old RayCluster (rayClusterDeletionDelaySeconds); by default replace_cluster waits until its pods go."""
    backend, commands, kube = kind
    backend.apply(HELLO)
    kube.pods["ray.io/cluster=ray-serve-app-abcde"] = [{"metadata": {"name": "ray-serve-app-abcde-head-x"}}]
    kube.rayservices = [rayservice(active="ray-serve-app-abcde"), rayservice(active="ray-serve-app-fghij")]
    backend.replace_cluster(HELLO, timeout=30, wait_old=False)
    assert backend.cluster_names() == ("ray-serve-app-fghij", None)
    assert "deletes the old RayCluster ray-serve-app-abcde by itself" in capsys.readouterr().out
    assert ("list_pods", NS[-1], "ray.io/cluster=ray-serve-app-abcde") not in kube.calls
