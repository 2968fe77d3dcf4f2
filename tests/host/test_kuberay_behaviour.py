"""What the real KubeRay operator does over time, where our played cluster was wrong (after test_host_cluster.py,
on the same cluster and RayService). The backend code these behaviours correct carries a line pointing here."""

from __future__ import annotations

import json
import time
import urllib.request

from helpers import config
from helpers.backends.kubeapi import pod_ready as pod_is_ready
from helpers.host import addons
from helpers.manifests import load_manifest, with_user_config
from helpers.progress import wait_for

from .conftest import NAMESPACE

MANIFEST = config.MANIFESTS_DIR / "ray-service.yaml"


def kubectl_json(*args: str) -> dict:
    return json.loads(addons.kubectl("-n", NAMESPACE, *args, "-o", "json").stdout)


def serve_endpoints() -> dict[str, bool]:
    """The pods behind `<name>-serve-svc`, with their `ready` condition, from its EndpointSlices."""
    slices = kubectl_json("get", "endpointslices", "-l", "kubernetes.io/service-name=ray-serve-app-serve-svc")
    return {
        e["targetRef"]["name"]: bool(e.get("conditions", {}).get("ready"))
        for s in slices["items"]
        for e in s.get("endpoints") or []
    }


def pod_ready(name: str) -> bool:
    pod = kubectl_json("get", "pod", name)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def test_a_worker_is_behind_the_serve_service_exactly_when_it_holds_a_replica(host_backend):
    """Every worker carries ray.io/serve=true; its readiness probe (its Serve proxy's /-/healthz) decides: a
    worker with no replica answers 503 there, is NotReady and outside <name>-serve-svc."""
    deadline = time.monotonic() + 120
    while True:
        seen = []
        for pod in host_backend.ray_pods("worker"):
            name = pod["metadata"]["name"]
            assert pod["metadata"]["labels"].get("ray.io/serve") == "true"
            held = host_backend._replicas_in(pod)
            seen.append((name, held, pod_ready(name), serve_endpoints().get(name, False)))
        settled = all(held is not None and bool(held) == ready == behind for _, held, ready, behind in seen)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(3)  # the probe runs every 5 s
    assert settled, f"(pod, replicas, Ready, behind serve-svc): {seen}"


def test_head_services_publish_not_ready_addresses_and_the_serve_service_selects_the_active_cluster(host_backend):
    head = kubectl_json("get", "service", "ray-serve-app-head-svc")["spec"]
    assert head["clusterIP"] == "None" and head["publishNotReadyAddresses"] is True
    active, pending = host_backend.cluster_names()
    serve = kubectl_json("get", "service", "ray-serve-app-serve-svc")["spec"]
    assert serve["selector"] == {"ray.io/cluster": active, "ray.io/serve": "true"} and pending is None


def test_wait_ready_returns_only_once_an_in_place_update_is_applied(host_backend):
    """An in-place serveConfigV2 change: KubeRay shows the new generation with the old RUNNING applications for
    one reconcile; wait_ready must not return on that, so the very next request sees the new greeting."""
    base = load_manifest(MANIFEST)
    greeting = f"Bonjour {int(time.time())}"
    host_backend.apply(with_user_config(base, "hello", "Hello", {"greeting": greeting}))
    host_backend.wait_ready(timeout=300)
    with urllib.request.urlopen(f"{host_backend.serve_url}/hello", timeout=10) as resp:
        assert json.loads(resp.read())["message"].startswith(greeting)


def test_a_killed_head_proxy_takes_the_head_out_of_the_serve_service_until_serve_restarts_it(host_backend):
    """KubeRay checks the head's proxy on every reconcile and sets the head's ray.io/serve label to false while
    it is down: the head leaves <name>-serve-svc, then comes back once Serve has started a new proxy."""
    (head,) = [p["metadata"]["name"] for p in host_backend.ray_pods("head")]

    def state() -> tuple[str, bool]:
        labels = kubectl_json("get", "pod", head)["metadata"]["labels"]
        return labels.get("ray.io/serve"), serve_endpoints().get(head, False)

    assert state() == ("true", True)
    host_backend.kill_proxy()
    seen = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        seen.append(state())
        if ("false", False) in seen and seen[-1] == ("true", True):
            break
        time.sleep(1)
    assert ("false", False) in seen, f"the head never left the serve Service: {sorted(set(seen))}"
    assert seen[-1] == ("true", True), f"the head did not come back within 180 s: {sorted(set(seen))}"


def test_head_loss_without_gcs_ft_recreates_the_head_only_and_the_workers_restart_in_place(host_backend):
    """Without GCS fault tolerance, as this cluster showed it: KubeRay recreates only the head pod; until the new
    head pod runs, the RayService's status keeps what it last saw (the applications RUNNING, Ready True); once it
    runs, KubeRay finds no application there and clears them until it has deployed them again (Ready went False,
    ZeroServeEndpoints, in some runs; in others the worker's proxy kept answering from its old Serve and Ready
    stayed True: tests/data/kuberay-host-recorded.json); the new head is Ready before they are RUNNING; the
    worker pods stay (same names) and their containers restart in place (their raylets exit when the new GCS
    does not know them)."""
    (head,) = host_backend.ray_pods("head")
    old_head = head["metadata"]["name"]
    workers = {p["metadata"]["name"]: restarts(p) for p in host_backend.ray_pods("worker")}
    before = shown_apps()
    host_backend.kube.delete_pod(NAMESPACE, old_head)
    timeline = []  # (seconds, the new head pod's phase, it is Ready, the apps as the RayService shows them)
    start = time.monotonic()
    while time.monotonic() - start < 300:
        heads = [p for p in host_backend.ray_pods("head") if p["metadata"]["name"] != old_head]
        phase = (heads[0].get("status") or {}).get("phase") if heads else None
        apps = shown_apps()
        timeline.append((time.monotonic() - start, phase, any(pod_is_ready(p) for p in heads), apps))
        now = {p["metadata"]["name"]: restarts(p) for p in host_backend.ray_pods("worker")}
        if timeline[-1][2] and running(apps) and all(now.get(w, 0) > workers[w] for w in workers):
            break
        time.sleep(0.5)
    new_heads = [p["metadata"]["name"] for p in host_backend.ray_pods("head")]
    assert len(new_heads) == 1 and new_heads[0] != old_head
    assert set(now) == set(workers), f"the worker pods changed: {sorted(workers)} -> {sorted(now)}"
    assert all(now[w] > workers[w] for w in workers), f"worker restarts before {workers}, after {now}"
    no_head = [apps for _, phase, _, apps in timeline if phase != "Running"]
    assert no_head and all(apps == before for apps in no_head), f"status while no head ran: {no_head}"
    cleared = [t for t, phase, _, apps in timeline if phase == "Running" and not running(apps)]
    assert cleared, "the applications were never shown other than RUNNING once the new head ran"
    head_ready = next(t for t, _, ready, _ in timeline if ready)
    running_again = next(t for t, _, _, apps in timeline if t > cleared[0] and running(apps))
    assert head_ready < running_again, (
        f"the new head Ready at {head_ready:.1f} s, the apps RUNNING at {running_again:.1f} s"
    )
    host_backend.wait_ready(timeout=300)


def restarts(pod: dict) -> int:
    return sum(c.get("restart_count") or 0 for c in (pod.get("status") or {}).get("container_statuses") or [])


def shown_apps() -> dict:
    """The applications' statuses as the RayService shows them (KubeRay's word alone, not Serve's)."""
    status = kubectl_json("get", "rayservice", "ray-serve-app")["status"]
    return (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}


def running(apps: dict) -> bool:
    return bool(apps) and all(a.get("status") == "RUNNING" for a in apps.values())


def test_a_worker_replicas_change_waits_for_the_next_in_place_update_of_the_cluster(host_backend):
    """KubeRay compares a hash of rayClusterConfig that leaves every worker group's replicas out
    (rayservice_controller.go, isClusterSpecHashEqual): a replicas-only change is observed and does nothing to the
    running RayCluster. A worker group added at the end is an in-place update of that RayCluster, rebuilt from the
    RayService's spec, so the stored replicas change lands with it. Last in this file: removing the added group
    would be a new-cluster upgrade, and the lessons' test deletes this RayService first anyway."""
    host_backend.apply(load_manifest(MANIFEST))
    host_backend.wait_ready(timeout=300)
    active, _ = host_backend.cluster_names()

    def cluster() -> dict:
        return kubectl_json("get", "raycluster", active)["spec"]

    def observed() -> tuple[bool, str]:
        service = kubectl_json("get", "rayservice", "ray-serve-app")
        seen, generation = service["status"].get("observedGeneration"), service["metadata"]["generation"]
        return seen == generation, f"generation {generation}, observed {seen}"

    def settled() -> dict:
        """The RayService once KubeRay has observed its latest generation, then three of its 2-s reconciles later:
        what is asserted next is that nothing more happens, so the wait after the observation is a fixed window."""
        wait_for("KubeRay to observe the change", observed, 60, interval=1.0)
        time.sleep(8)
        return kubectl_json("get", "rayservice", "ray-serve-app")

    groups = cluster()["workerGroupSpecs"]
    assert [g["groupName"] for g in groups] == ["workers"]
    before = groups[0]["replicas"]
    patch = '[{"op": "replace", "path": "/spec/rayClusterConfig/workerGroupSpecs/0/replicas", "value": %d}]'
    addons.kubectl("-n", NAMESPACE, "patch", "rayservice", "ray-serve-app", "--type=json", "-p", patch % (before + 1))
    service = settled()
    assert host_backend.cluster_names() == (active, None), "a replicas-only change started a new cluster"
    assert cluster()["workerGroupSpecs"][0]["replicas"] == before, "a replicas-only change reached the RayCluster"
    assert service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] == before + 1

    extra = dict(service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0], groupName="extra", replicas=0)
    extra["minReplicas"] = 0
    add = json.dumps([{"op": "add", "path": "/spec/rayClusterConfig/workerGroupSpecs/-", "value": extra}])
    addons.kubectl("-n", NAMESPACE, "patch", "rayservice", "ray-serve-app", "--type=json", "-p", add)
    settled()
    assert host_backend.cluster_names() == (active, None), "an added worker group started a new cluster"
    groups = cluster()["workerGroupSpecs"]
    assert [(g["groupName"], g["replicas"]) for g in groups] == [("workers", before + 1), ("extra", 0)]
