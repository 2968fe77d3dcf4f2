"""One behaviour, real backends: each test here runs on the local backend (this session's real Ray cluster on
127.0.0.1) and on the host backend (a real Kubernetes API server, kubelet and KubeRay operator on this machine,
tests/conftest.py's ``host_backend``). The same calls, the same waits the lessons use, the same checks: a fault
returns what ``FAULT_RESULTS`` promises, shows the kubectl command a learner would type for it, hits what it
says, and the cluster heals. One runs its host half elsewhere (``local`` below), and two run only there.

The host half is marked ``host``: `make test` runs it after the host cluster is built (``-m host``), and the
integration step leaves it out (``-m "not host"``). The kind and kubernetes backends are the host backend's
Kubernetes code unchanged (``KubernetesBackend``); what only kind does (kind, helm, image loading) is checked by
recorded commands in tests/unit/test_kind_backend.py.
"""

from __future__ import annotations

import copy

import pytest
import requests

from helpers import scenarios
from helpers import status as status_mod
from helpers.backends import DeployFailedError, NotRunningError
from helpers.backends.faults import ReplicaKilled, WorkerLost
from helpers.backends.local import LocalBackend
from helpers.manifests import with_serve_config
from tests.integration.conftest import HELLO, MULTI

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", pytest.param("host", marks=pytest.mark.host)])
def either(request):
    """A backend with hello applied and Ready: the session's local cluster, or the host cluster."""
    backend = request.getfixturevalue("backend" if request.param == "local" else "host_backend")
    backend.up(HELLO)
    backend.apply(HELLO)
    backend.wait_ready(timeout=120 if request.param == "local" else 600)
    return backend


@pytest.fixture
def local(backend):
    """The local half only, where the host half runs elsewhere (CI's time budget). The failed
    deploy: lesson 05 under nbval on host (tests/host) applies a bad ``import_path``, waits for its
    ``DeployFailedError`` and checks the old version keeps serving (three applications here cost a new deploy on
    the host's 2 CPUs, about 25 s). (A lost
    head has no test here: lesson 04b's delete_head_pod under traffic asserts its outcome under nbval on both
    backends, and test_kuberay_behaviour.py checks KubeRay's part on host. Nor a killed proxy: lesson 04a's
    proxy_loss kills it under traffic and waits for Serve's new proxy under nbval on both backends, and
    test_kuberay_behaviour.py follows the head out of and back into the serve Service on host.)"""
    backend.up(HELLO)
    backend.apply(HELLO)
    backend.wait_ready(timeout=120)
    return backend


def get(backend, path: str) -> requests.Response:
    return requests.get(backend.serve_url + path, timeout=10)


def shown(capsys) -> list[str]:
    """The `$ kubectl ...` lines a step printed."""
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ kubectl")]


def replica_ids(backend, app: str = "hello") -> set[str]:
    return {r["replica_id"] for r in backend.running_replicas(app)}


def test_apply_then_wait_ready_gives_ready_and_every_replica(either):
    assert either.wait_ready(timeout=120) >= 0
    status = either.status()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "NonZeroServeEndpoints")
    hello = status["activeServiceStatus"]["applicationStatuses"]["hello"]
    assert hello["status"] == "RUNNING" and hello["routePrefix"] == "/hello"
    assert hello["serveDeploymentStatuses"]["Hello"]["replicaStates"] == {"RUNNING": 2}
    assert len(replica_ids(either)) == 2
    assert get(either, "/hello").status_code == 200
    assert get(either, "/no-such-app").status_code == 404


def test_the_dashboard_wants_the_clusters_token_and_serve_does_not(either):
    api = either.urls()["dashboard"] + "/api/serve/applications/"
    token = either.token()
    assert token
    assert requests.get(api, timeout=10).status_code == 401
    assert requests.get(api, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 403
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    assert get(either, "/hello").status_code == 200


@pytest.mark.host
@pytest.mark.host
def test_both_report_the_same_status_shape_and_show_the_same_kubectl_step(host_backend):
    """Side by side on one Serve: the status the local backend builds from Serve's API and the host cluster's (the
    RayService's status from KubeRay, with Serve's replica counts) have the same fields, down to a deployment's.
    (The two backends never run at once: kubelet's ports fall in Ray's worker port range.) It runs while the
    tests above left hello Ready on the host cluster, so its apply changes nothing and costs no new deploy."""
    host_backend.up(HELLO)
    host_backend.apply(HELLO)
    host_backend.wait_ready(timeout=600)
    host = host_backend.status()
    active, _ = host_backend.cluster_names()
    local = status_mod.rayservice_status(host_backend.serve.details(), HELLO.name, active, activated=True)
    assert set(local) == set(host)
    local_app = local["activeServiceStatus"]["applicationStatuses"]["hello"]
    host_app = host["activeServiceStatus"]["applicationStatuses"]["hello"]
    assert set(local_app) == set(host_app)
    assert local_app["serveDeploymentStatuses"]["Hello"] == host_app["serveDeploymentStatuses"]["Hello"]
    # The same step shows the same command (the host backend adds its kubeconfig context; namespaces differ).
    local_step = LocalBackend().kubectl.wait_ready(HELLO.name).args
    assert local_step[1:-2] == host_backend.kubectl.wait_ready(HELLO.name).args[3:-2]


def test_a_failed_deploy_is_named_and_the_other_apps_keep_serving(local):
    either = local
    either.apply(MULTI)
    either.wait_ready(timeout=120)
    broken = copy.deepcopy(MULTI.serve_config)
    broken["applications"][2]["import_path"] = "predict_app:no_such_builder"
    either.apply(with_serve_config(MULTI, broken))
    with pytest.raises(DeployFailedError) as info:
        either.wait_ready(timeout=120)
    assert info.value.app == "predict-b" and "no_such_builder" in info.value.serve_message
    assert get(either, "/hello").status_code == 200
    assert get(either, "/predict-a?x=1").status_code == 200
    either.apply(MULTI)  # roll back
    either.wait_ready(timeout=120)
    assert get(either, "/predict-b?x=1").status_code == 200


def test_kill_replica_kills_the_one_it_names_and_serve_replaces_it(either, capsys):
    before = replica_ids(either)
    capsys.readouterr()
    killed = either.kill_replica("hello")
    assert isinstance(killed, ReplicaKilled)
    assert killed.replica in before
    assert shown(capsys)[0] == "$ " + either.kubectl.exec(killed.pod, "kill", "-9", str(killed.pid)).text
    scenarios.back_to_target(either, "hello", 120)(killed)
    after = replica_ids(either)
    assert killed.replica not in after and len(after) == 2
    assert get(either, "/hello").status_code == 200


def test_lose_worker_deletes_a_worker_pod_and_its_replicas_come_back(either, capsys):
    before = replica_ids(either)
    capsys.readouterr()
    lost = either.lose_worker(0)
    assert isinstance(lost, WorkerLost)
    assert shown(capsys)[0] == "$ " + either.kubectl.delete_pod(lost.pod).text
    assert lost.replicas is not None and set(lost.replicas) <= before
    scenarios.back_to_target(either, "hello", 120)(lost)
    assert not set(lost.replicas) & replica_ids(either)
    assert get(either, "/hello").status_code == 200


def test_delete_service_leaves_nothing_applied(either):
    either.delete_service(timeout=120)
    with pytest.raises(NotRunningError):
        either.status()
    try:
        answered = get(either, "/hello").status_code
    except requests.ConnectionError:
        answered = None  # nothing listens (local) or no pod is behind the Service (kind)
    assert answered != 200
