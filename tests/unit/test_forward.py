"""Forwards that follow the Service: every new connection goes to a pod ready behind it *now*.

The pods are tiny HTTP servers on 127.0.0.1 that answer with their pod name; which pods are behind
which Service comes from the KubeRay timeline fake (tests/kuberay_fake/), driven by its fake
clock. `kubectl port-forward svc/X` would stay on the first pod (kubernetes/kubectl#686).
"""

from __future__ import annotations

import http.client
import logging
import socket
import sys
import threading
import time

import psutil
import pytest

from helpers import procs
from helpers.backends import forward
from helpers.backends.forward import Forwarder, endpoint_resolver, ready_endpoints
from helpers.backends.kube import KubernetesBackend
from helpers.manifests import load_manifest, with_pod_env

from ..fakes import FakeCommands, write_kubeconfig
from ..kuberay_fake import KubeRayTimeline
from ..pods import Pods

NS = "rayservice-tutorial"
HELLO = load_manifest("manifests/ray-service.yaml")


@pytest.fixture
def pods():
    found = Pods()
    yield found
    found.close()


def get(port: int) -> str:
    """One request on a new connection; the name of the pod that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def forward_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("forward ")]


def deployed(timeline: KubeRayTimeline, manifest=HELLO) -> str:
    """Apply ``manifest`` and run the clock until its cluster is active; the active RayCluster's name."""
    obj = {**manifest.raw, "metadata": {**manifest.raw["metadata"], "namespace": NS}}
    timeline.apply(obj)
    timeline.run_until(lambda: active(timeline) and not pending(timeline))
    return active(timeline)


def active(timeline: KubeRayTimeline) -> str | None:
    status = timeline.get_rayservice(NS, HELLO.name)["status"]
    return (status.get("activeServiceStatus") or {}).get("rayClusterName")


def pending(timeline: KubeRayTimeline) -> str | None:
    status = timeline.get_rayservice(NS, HELLO.name)["status"]
    return (status.get("pendingServiceStatus") or {}).get("rayClusterName")


def follower(timeline: KubeRayTimeline, pods: Pods, service: str, port: int) -> Forwarder:
    return Forwarder(service, 0, endpoint_resolver(timeline, NS, port), pods.connect, backoff=0.05)


# -- the forwarder on its own --------------------------------------------------------------------


def test_listens_on_loopback_only(pods):
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        Forwarder("svc", 0, lambda s: [], pods.connect, host="0.0.0.0")
    with Forwarder("svc", 0, lambda s: [("pod-a", 80)], pods.connect) as fwd:
        mine = [
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process().net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == fwd.port
        ]
        assert mine == [("127.0.0.1", fwd.port)]
        assert get(fwd.port) == "pod-a"


def test_an_open_connection_stays_on_its_pod_new_ones_follow(pods):
    behind = [("pod-old", 8000)]
    with Forwarder("ray-serve-app-serve-svc", 0, lambda s: list(behind), pods.connect) as fwd:
        kept = http.client.HTTPConnection("127.0.0.1", fwd.port, timeout=5)
        kept.request("GET", "/")
        assert kept.getresponse().read() == b"pod-old"
        behind[:] = [("pod-new", 8000)]  # the Service now selects another pod
        assert get(fwd.port) == "pod-new"
        kept.request("GET", "/")  # same (keep-alive) connection: same pod, as through a Service
        assert kept.getresponse().read() == b"pod-old"
        kept.close()
        assert get(fwd.port) == "pod-new"


def test_each_new_connection_picks_a_ready_pod_at_random_so_clients_in_step_see_every_pod(pods):
    """Two clients sending in step (lesson 04's pair) take turns at the forward; a pick in turn would give
    each one pod for good. kube-proxy picks at random; so does the forward."""
    with Forwarder("ray-serve-app-serve-svc", 0, lambda s: [("pod-a", 8000), ("pod-b", 8000)], pods.connect) as fwd:
        reached = [get(fwd.port) for _ in range(40)]
    assert set(reached[0::2]) == set(reached[1::2]) == {"pod-a", "pod-b"}


def test_a_failed_connect_re_resolves(pods):
    answers = [[("pod-gone", 8000)], [("pod-gone", 8000)], [("pod-new", 8000)]]

    def resolve(service):
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def connect(pod, port):
        if pod == "pod-gone":
            raise ConnectionRefusedError("pod deleted")
        return pods.connect(pod, port)

    with Forwarder("ray-serve-app-head-svc", 0, resolve, connect, backoff=0.05) as fwd:
        assert get(fwd.port) == "pod-new"


def test_no_ready_endpoint_closes_the_connection_quickly_and_names_the_service(pods, caplog):
    caplog.set_level(logging.WARNING, logger="helpers.forward")
    with Forwarder("ray-serve-app-serve-svc", 0, lambda s: [], pods.connect, backoff=0.05) as fwd:
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", fwd.port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                assert client.recv(100) == b""  # closed, not left hanging
            except ConnectionResetError:
                pass  # closed with unread data: a reset, as clear to the client
        assert time.monotonic() - start < 2.0
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("Service ray-serve-app-serve-svc: no ready endpoint after 4 attempts; closed the")
    assert pods.reached == []


def test_stop_leaves_no_thread_connection_or_listener(pods):
    fwd = Forwarder("svc", 0, lambda s: [("pod-a", 80)], pods.connect).start()
    port = fwd.port
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"pod-a"):  # headers and body may come in separate reads
        chunk = held.recv(1000)
        assert chunk, answer
        answer += chunk
    assert forward_threads()
    fwd.stop()
    assert forward_threads() == []
    assert held.recv(100) == b""  # the open connection was closed too
    held.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert procs.port_holder(port) is None


# -- EndpointSlices ------------------------------------------------------------------------------


def test_ready_endpoints_read_an_endpointslice_as_the_client_returns_it():
    def endpoint(pod, ready, terminating=False, kind="Pod"):
        return {
            "addresses": ["10.0.0.1"],
            "conditions": {"ready": ready, "terminating": terminating},
            "target_ref": {"kind": kind, "name": pod},
        }

    slices = [
        {
            "ports": [{"name": "dashboard", "port": 8265}, {"name": "http", "port": 8080}],
            "endpoints": [
                endpoint("head-new", True),
                endpoint("head-old", False, terminating=True),
                endpoint("unknown-state", None),  # the API: unset means ready, unless terminating
                endpoint("going", None, terminating=True),
                endpoint("not-a-pod", True, kind="Node"),
            ],
        },
        {"ports": [{"name": "other", "port": 1}], "endpoints": [endpoint("elsewhere", True)]},
    ]
    assert ready_endpoints(slices, "dashboard") == [("head-new", 8265), ("unknown-state", 8265)]
    # A Service port 80 named http with targetPort 8080: the slice carries the pod's port.
    assert ready_endpoints(slices, "http") == [("head-new", 8080), ("unknown-state", 8080)]
    assert ready_endpoints([{"ports": [{"port": 9000}], "endpoints": [endpoint("p", True)]}], None) == [("p", 9000)]
    assert ready_endpoints([], "dashboard") == []


class ServiceReads:
    """read_service and list_endpoint_slices, as the kubernetes client's to_dict() returns them."""

    def __init__(self, cluster_ip, slices):
        self.cluster_ip, self.slices = cluster_ip, slices

    def read_service(self, namespace, name):
        ports = [{"name": "serve", "port": 8000}]
        return {"metadata": {"name": name}, "spec": {"cluster_ip": self.cluster_ip, "ports": ports}}

    def list_endpoint_slices(self, namespace, service):
        return self.slices


def pod_endpoint(address, ready, terminating=False):
    conditions = {"ready": ready, "terminating": terminating}
    return {"addresses": [address], "conditions": conditions, "target_ref": {"kind": "Pod", "name": address}}


def test_on_the_pod_network_a_service_is_its_cluster_ip_and_a_headless_one_its_ready_pods():
    """The host backend's forwards reach a Service as a pod does: kube-proxy picks the pod behind a cluster IP;
    a headless Service (KubeRay's head Services, publishNotReadyAddresses) gives its endpoints, never a
    terminating one."""
    slices = [
        {
            "ports": [{"name": "serve", "port": 8000}],
            "endpoints": [pod_endpoint("10.244.0.7", True), pod_endpoint("10.244.0.5", True, terminating=True)],
        }
    ]
    assert forward.address_resolver(ServiceReads("10.96.0.20", slices), NS, 8000)("svc") == [("10.96.0.20", 8000)]
    assert forward.address_resolver(ServiceReads("None", slices), NS, 8000)("head-svc") == [("10.244.0.7", 8000)]
    assert forward.address_resolver(ServiceReads("None", []), NS, 8000)("head-svc") == []


def test_on_the_pod_network_a_refused_connection_fails_as_it_does_for_a_client_in_the_cluster(pods):
    """One attempt: a connection the Service's pod refuses is closed, not sent elsewhere (kube-proxy does not
    retry it either); a live address is reached by a plain TCP connection."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]  # bound, never listening: refused
        with Forwarder("svc", 0, lambda s: [("127.0.0.1", dead)], forward.address_connector, attempts=1) as fwd:
            with socket.create_connection(("127.0.0.1", fwd.port), timeout=5) as client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    assert client.recv(100) == b""
                except ConnectionResetError:
                    pass
    live = pods.server("pod-a").server_address[1]
    with Forwarder("svc", 0, lambda s: [("127.0.0.1", live)], forward.address_connector, attempts=1) as fwd:
        assert get(fwd.port) == "pod-a"


def test_the_forward_command_line_asks_for_the_pod_network_on_the_host_backend():
    args = forward.command("python", "svc", 8000, 8000, NS, "rayservice-host", pod_network=True)
    assert args[3:6] == ["--context", "rayservice-host", "--pod-network"]
    assert "--pod-network" not in forward.command("python", "svc", 8000, 8000, NS, "kind-x")


def test_the_real_client_lists_the_services_endpointslices(tmp_path, monkeypatch):
    """EndpointsAPI sends what KubeRay's Services need: the Service, then its EndpointSlices by label."""

    from .test_kubeapi_http import RecordingAPIServer

    server = RecordingAPIServer()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path, server.url)))
    server.objects[f"/api/v1/namespaces/{NS}/services/ray-serve-app-head-svc"] = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "ray-serve-app-head-svc"},
        "spec": {"ports": [{"name": "dashboard", "port": 8265, "targetPort": 8265}]},
    }
    server.objects[f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"] = {
        "kind": "EndpointSliceList",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": "ray-serve-app-head-svc-x7k2p"},
                "addressType": "IPv4",
                "ports": [{"name": "dashboard", "port": 8265, "protocol": "TCP"}],
                "endpoints": [
                    {
                        "addresses": ["10.244.0.9"],
                        "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "ray-serve-app-bbbbb-head-q4z7t"},
                    },
                    {
                        "addresses": ["10.244.0.7"],
                        "conditions": {"ready": False, "terminating": True},
                        "targetRef": {"kind": "Pod", "name": "ray-serve-app-aaaaa-head-x1"},
                    },
                ],
            }
        ],
    }
    try:
        resolve = endpoint_resolver(forward.EndpointsAPI("kind-rayservice-tutorial"), NS, 8265)
        assert resolve("ray-serve-app-head-svc") == [("ray-serve-app-bbbbb-head-q4z7t", 8265)]
        resolve("ray-serve-app-head-svc")
        gets = [(r["path"], r["query"]) for r in server.calls("GET")]
        assert gets == [
            (f"/api/v1/namespaces/{NS}/services/ray-serve-app-head-svc", {}),
            (
                f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices",
                {"labelSelector": ["kubernetes.io/service-name=ray-serve-app-head-svc"]},
            ),
            (  # per connection: the slices again, not the Service
                f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices",
                {"labelSelector": ["kubernetes.io/service-name=ray-serve-app-head-svc"]},
            ),
        ]
    finally:
        server.close()


def test_pod_port_forwards_use_their_own_client_one_handshake_at_a_time(tmp_path, monkeypatch):
    """kubernetes.stream swaps the ApiClient's call_api during a handshake: never on the client that
    reads EndpointSlices, never two at once."""
    import kubernetes.stream

    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path, "http://127.0.0.1:9", context="k")))
    api = forward.EndpointsAPI()
    inside, most, seen = [0], [0], []
    lock = threading.Lock()

    class FakePortForward:
        def socket(self, port):
            return ("socket to", port)

    def portforward(method, pod, namespace, ports):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        seen.append((method.__self__.api_client, pod, namespace, ports))
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return FakePortForward()

    monkeypatch.setattr(kubernetes.stream, "portforward", portforward)
    connect = forward.pod_connector(api, NS)
    threads = [threading.Thread(target=connect, args=(f"pod-{i}", 8000)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and len(seen) == 5
    assert {c for c, *_ in seen} == {api.forwards.api_client} != {api.core.api_client}
    assert sorted(p for _, p, _, _ in seen) == [f"pod-{i}" for i in range(5)]
    assert {(n, ports) for _, _, n, ports in seen} == {(NS, "8000")}
    assert connect("pod-x", 8000) == ("socket to", 8000)


# -- following KubeRay's timeline ---------------------------------------------------------------


def test_new_connections_reach_the_new_head_pod_after_it_is_replaced(caplog):
    timeline = KubeRayTimeline()
    pods = Pods(timeline)
    cluster = deployed(timeline)
    old_head = timeline.head_pod(cluster)
    with follower(timeline, pods, f"{HELLO.name}-head-svc", 8265) as fwd:
        assert get(fwd.port) == old_head
        timeline.delete_pod(NS, old_head)  # lesson 04: `kubectl delete pod <head>`
        with pytest.raises((ConnectionError, http.client.HTTPException)):  # no ready head right now
            get(fwd.port)
        assert f"Service {HELLO.name}-head-svc: no ready endpoint" in caplog.text
        timeline.run_until(lambda: timeline.head_pod(cluster) not in (None, old_head))
        new_head = timeline.head_pod(cluster)
        timeline.run_until(lambda: bool(ready_endpoints(timeline.list_endpoint_slices(NS, fwd.service), "dashboard")))
        assert get(fwd.port) == new_head != old_head  # no action from the caller
        assert new_head.startswith(f"{cluster}-head-")


def test_lesson_04_head_pod_loss_through_the_backend_then_the_forward_reaches_the_new_head(
    tmp_path, capsys, monkeypatch
):
    import types

    from helpers import progress

    timeline = KubeRayTimeline()
    shown = []  # the apps as the RayService shows them, each time the backend's wait for the new head polls

    def sleep(seconds):
        status = timeline.get_rayservice(NS, HELLO.name)["status"]
        shown.append(status["activeServiceStatus"].get("applicationStatuses") or {})
        timeline.advance(seconds)

    monkeypatch.setattr(progress, "time", types.SimpleNamespace(sleep=sleep, monotonic=timeline.clock))
    pods = Pods(timeline)
    backend = KubernetesBackend(
        state_dir=tmp_path, commands=FakeCommands(responses={("kubectl",): timeline.kubectl}), kube=timeline
    )
    monkeypatch.setattr(backend, "ensure_port_forwards", lambda: None)  # the forward is the one below
    backend.serve = types.SimpleNamespace(details=lambda: {"applications": {}})  # no Serve in these pods
    backend.apply(HELLO)
    cluster = deployed(timeline)
    with follower(timeline, pods, f"{HELLO.name}-head-svc", 8265) as dashboard:
        old_head = get(dashboard.port)
        lost = backend.delete_head_pod()  # `kubectl delete pod <head>`, as the lesson shows it
        assert lost.pod == old_head and f'pod "{old_head}" deleted' in capsys.readouterr().out
        assert {} in shown  # once the new head runs, no application until KubeRay has deployed them again
        # As on the host cluster (tests/host/test_kuberay_behaviour.py): the new head is Ready before its apps
        # are deployed again - once the old pod is gone (its container stops), the new one starts.
        assert lost.head_back_s == pytest.approx(
            2 * timeline.termination_seconds + timeline.pod_start_seconds + 2.0, abs=1
        )
        assert lost.head_back_s < timeline.cluster_ready_seconds
        timeline.run_until(lambda: _ready(timeline))
        new_head = get(dashboard.port)
        assert new_head == lost.head != old_head and timeline.cluster_of(new_head) == cluster
        assert [p["metadata"]["name"] for p in backend.ray_pods("head")] == [new_head]
    pods.close()


def _ready(timeline: KubeRayTimeline) -> bool:
    conditions = timeline.get_rayservice(NS, HELLO.name)["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Ready")["status"] == "True"


def test_new_connections_follow_the_services_to_the_new_raycluster():
    timeline = KubeRayTimeline()
    pods = Pods(timeline)
    old = deployed(timeline)
    serve = follower(timeline, pods, f"{HELLO.name}-serve-svc", 8000).start()
    head = follower(timeline, pods, f"{HELLO.name}-head-svc", 8265).start()
    try:
        kept = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=5)
        kept.request("GET", "/")
        first = kept.getresponse().read().decode()
        assert timeline.cluster_of(first) == old
        # Lesson 05: a rayClusterConfig change: KubeRay builds a pending cluster next to the active one.
        changed = with_pod_env(HELLO, {"TUTORIAL_CLUSTER_REVISION": "2"})
        timeline.apply({**changed.raw, "metadata": {**changed.raw["metadata"], "namespace": NS}})
        timeline.advance(5)
        new = pending(timeline)
        assert new and new != old and active(timeline) == old
        assert timeline.cluster_of(get(serve.port)) == old  # before promotion: the old cluster serves
        timeline.run_until(lambda: active(timeline) == new)
        promoted_at = timeline.clock.now
        # After promotion, with no action from the caller: new connections reach the new cluster's pods.
        assert {timeline.cluster_of(get(serve.port)) for _ in range(4)} == {new}
        assert timeline.cluster_of(get(head.port)) == new
        # The connection opened before stays on its old pod until it closes (the old cluster lives 60 s more).
        kept.request("GET", "/")
        assert kept.getresponse().read().decode() == first
        kept.close()
        timeline.run_until(lambda: old not in timeline.clusters)
        assert timeline.clock.now - promoted_at == pytest.approx(60, abs=1)
        assert timeline.cluster_of(get(serve.port)) == new
    finally:
        serve.stop()
        head.stop()
        pods.close()


def test_after_promotion_the_token_and_the_reached_pod_belong_to_the_same_raycluster(tmp_path):
    timeline = KubeRayTimeline()
    pods = Pods(timeline)
    backend = KubernetesBackend(state_dir=tmp_path, commands=FakeCommands(), kube=timeline)
    backend.apply(HELLO)
    timeline.run_until(lambda: backend.cluster_names()[0] is not None and backend.cluster_names()[1] is None)
    with follower(timeline, pods, f"{HELLO.name}-head-svc", 8265) as dashboard:
        tokens = []
        for revision in ("2", "3"):
            reached = timeline.cluster_of(get(dashboard.port))
            assert backend.cluster_names()[0] == reached
            assert backend.token() == timeline.token_of(reached)
            tokens.append(backend.token())
            backend.upgrade_cluster(HELLO, revision=revision)
            timeline.run_until(
                lambda old=reached: backend.cluster_names()[1] is None and backend.cluster_names()[0] != old
            )
        reached = timeline.cluster_of(get(dashboard.port))
        assert backend.cluster_names()[0] == reached and backend.token() == timeline.token_of(reached)
        tokens.append(backend.token())
    assert len(set(tokens)) == 3  # a new token with each new cluster, read from the cluster reached
    pods.close()


def test_wait_ready_returns_after_promotion_and_new_connections_reach_the_new_cluster(tmp_path, monkeypatch):
    """Lesson 05 on kind: wait_ready() after a rayClusterConfig change returns once KubeRay has promoted
    the new cluster, and from then on the forward reaches it (the fake clock runs while wait_ready sleeps)."""
    import types

    from helpers import progress

    timeline = KubeRayTimeline()
    pods = Pods(timeline)
    fake_time = types.SimpleNamespace(sleep=timeline.advance, monotonic=time.monotonic, time=time.time)
    monkeypatch.setattr(progress, "time", fake_time)
    backend = KubernetesBackend(state_dir=tmp_path, commands=FakeCommands(), kube=timeline)
    monkeypatch.setattr(backend, "ensure_port_forwards", lambda: None)  # the forward is the one below
    # This timeline plays KubeRay, not Serve: Serve's own word is that the app runs.
    backend.serve = types.SimpleNamespace(details=lambda: {"applications": {"hello": {"status": "RUNNING"}}})
    backend.apply(HELLO)
    backend.wait_ready(timeout=600)
    first = backend.cluster_names()[0]
    with follower(timeline, pods, f"{HELLO.name}-serve-svc", 8000) as serve:
        assert timeline.cluster_of(get(serve.port)) == first
        backend.upgrade_cluster(HELLO, revision="2")
        backend.wait_ready(timeout=600)
        new, pending_now = backend.cluster_names()
        assert pending_now is None and new != first
        assert any(what.startswith(f"promoted RayCluster {new}") for _, what in timeline.history)
        assert first in timeline.clusters  # still there for 60 s: the forward must not need it
        assert timeline.cluster_of(get(serve.port)) == new
    pods.close()


# -- the detached process the backend starts ----------------------------------------------------


def test_the_detached_forward_listens_on_loopback_and_stops_with_its_group(tmp_path):

    # An API server nobody answers at: every resolution fails, the process stays up.
    write_kubeconfig(tmp_path, "http://127.0.0.1:9")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = forward.command(sys.executable, "ray-serve-app-serve-svc", port, 8000, NS, "kind-rayservice-tutorial")
    assert args[1:] == [
        "-m",
        "helpers.backends.forward",
        "--context",
        "kind-rayservice-tutorial",
        "port-forward",
        "--address",
        "127.0.0.1",
        "svc/ray-serve-app-serve-svc",
        f"{port}:8000",
        "-n",
        NS,
    ]
    import os

    marker = "test-forward-" + str(os.getpid())
    env = {**os.environ, procs.MARKER_VAR: marker, "KUBECONFIG": str(tmp_path / "kubeconfig")}
    log = tmp_path / "port-forward-serve.log"
    pid = procs.start_detached(args, env, log).pid
    try:
        assert procs.wait_port(port, timeout=20), procs.tail(log)
        assert procs.listeners({pid}) == [("127.0.0.1", port, pid)]
        assert [p.pid for p in procs.find_marked(marker)] == [pid]  # found after a kernel restart too
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.settimeout(10)
            assert client.recv(100) == b""
        deadline = time.monotonic() + 5
        while "no ready" not in log.read_text() and "cannot read" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "Service ray-serve-app-serve-svc: cannot read its endpoints" in log.read_text()
    finally:
        assert procs.stop_groups([pid], marker=marker, grace=5) == 1
    assert procs.find_marked(marker) == [] and procs.port_holder(port) is None
    assert "0.0.0.0" not in " ".join(args)


def test_the_command_line_refuses_any_address_but_loopback(capsys):
    with pytest.raises(SystemExit):
        forward.main(["port-forward", "--address", "0.0.0.0", "svc/x", "1:2", "-n", NS])
    assert "invalid choice: '0.0.0.0'" in capsys.readouterr().err


# -- the timeline fake itself -------------------------------------------------------------------


def test_the_timeline_follows_kuberay(tmp_path):
    from helpers import crd_schema

    status_schema = crd_schema.load_extract()["properties"]["status"]
    timeline = KubeRayTimeline()
    timeline.apply({**HELLO.raw, "metadata": {**HELLO.raw["metadata"], "namespace": NS}})
    seen = [timeline.get_rayservice(NS, HELLO.name)["status"]]
    first = pending(timeline)
    assert first == f"{HELLO.name}-aaaaa" and active(timeline) is None
    assert timeline.list_endpoint_slices(NS, f"{HELLO.name}-serve-svc") == []  # no Service before promotion
    deployed(timeline)
    assert active(timeline) == first
    (head,) = timeline.list_pods(NS, f"ray.io/cluster={first},ray.io/node-type=head")
    assert head["metadata"]["name"].startswith(f"{first}-head-") and len(head["metadata"]["name"]) == len(first) + 11
    workers = timeline.list_pods(NS, f"ray.io/cluster={first},ray.io/node-type=worker")
    assert [w["metadata"]["name"].rsplit("-", 1)[0] for w in workers] == [f"{first}-workers-worker"]
    seen.append(timeline.get_rayservice(NS, HELLO.name)["status"])
    changed = with_pod_env(HELLO, {"TUTORIAL_CLUSTER_REVISION": "2"})
    timeline.apply({**changed.raw, "metadata": {**changed.raw["metadata"], "namespace": NS}})
    timeline.advance(1)
    status = timeline.get_rayservice(NS, HELLO.name)["status"]
    seen.append(status)
    second = status["pendingServiceStatus"]["rayClusterName"]
    assert second == f"{HELLO.name}-bbbbb"
    upgrade = next(c for c in status["conditions"] if c["type"] == "UpgradeInProgress")
    assert (upgrade["status"], upgrade["reason"]) == ("True", "BothActivePendingClustersExist")
    assert timeline.token_of(first) != timeline.token_of(second)
    timeline.run_until(lambda: active(timeline) == second)
    seen.append(timeline.get_rayservice(NS, HELLO.name)["status"])
    assert pending(timeline) is None and first in timeline.clusters  # kept for rayClusterDeletionDelaySeconds
    timeline.advance(59)
    assert first in timeline.clusters
    timeline.advance(1)
    assert first not in timeline.clusters and timeline.read_secret(NS, first) is None
    timeline.advance(5)
    assert timeline.list_pods(NS, f"ray.io/cluster={first}") == []
    # serveConfigV2 only: in place, no new cluster.
    edited = {**changed.raw, "metadata": {**changed.raw["metadata"], "namespace": NS}}
    edited["spec"] = {**edited["spec"], "serveConfigV2": edited["spec"]["serveConfigV2"] + "\n"}
    timeline.apply(edited)
    timeline.advance(1)
    assert pending(timeline) is None and active(timeline) == second
    for status in seen:
        assert crd_schema.problems(status, status_schema) == []
