"""A real single-node Kubernetes on this machine, with the real KubeRay operator (BACKEND=host).

In file order: the node and the add-ons, the RayService of manifests/ray-service.yaml reaching Ready through the
operator's own status, /hello from this machine (the backend's forward) and from a pod (cluster DNS and
kube-proxy), a worker pod deleted and replaced by the operator, and `down` leaving nothing behind.
"""

from __future__ import annotations

import json
import urllib.request

from helpers import config
from helpers.host import addons, components, network

from .conftest import NAMESPACE

MANIFEST = config.MANIFESTS_DIR / "ray-service.yaml"


def kubectl_json(*args: str) -> dict:
    return json.loads(addons.kubectl(*args, "-o", "json").stdout)


def test_the_node_is_ready_and_runs_the_pinned_kubernetes(host_backend):
    node = kubectl_json("get", "node", components.NODE)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == config.HOST_VERSIONS["kubernetes"]
    assert (
        node["status"]["nodeInfo"]["containerRuntimeVersion"]
        == f"containerd://{config.HOST_VERSIONS['containerd'].lstrip('v')}"
    )
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == network.NODE_IP


def test_coredns_and_the_operator_run_from_images_built_here(host_backend):
    for namespace, deployment in (("kube-system", "coredns"), (config.OPERATOR_NAMESPACE, config.OPERATOR_DEPLOYMENT)):
        status = kubectl_json("-n", namespace, "get", "deployment", deployment)["status"]
        assert status.get("availableReplicas") == 1, f"{namespace}/{deployment}: {status}"


def test_the_rayservice_reaches_ready_through_the_operator(host_backend):
    host_backend.apply(MANIFEST)
    host_backend.wait_ready(timeout=600)
    service = kubectl_json("-n", NAMESPACE, "get", "rayservice", "ray-serve-app")
    conditions = {c["type"]: c for c in service["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    apps = service["status"]["activeServiceStatus"]["applicationStatuses"]
    assert apps["hello"]["status"] == "RUNNING"


def test_the_pods_weigh_more_than_one_process_of_this_machine_and_every_ray_pod_runs_below(host_backend):
    """The pods' cgroup root carries PODS_CPU_SHARES in the cpu hierarchy, and each Ray pod's cgroup is below it."""
    from helpers.host import cluster

    (cpu,) = [
        d for d in cluster.cgroup_dirs() if d.name == components.CGROUP_ROOT.lstrip("/") and d.parent.name == "cpu"
    ]
    assert int((cpu / "cpu.shares").read_text()) == cluster.PODS_CPU_SHARES > 1024
    for pod in host_backend.ray_pods("head") + host_backend.ray_pods("worker"):
        assert list(cpu.rglob(f"pod{pod['metadata']['uid']}")), f"{pod['metadata']['name']} is not below {cpu}"


def test_hello_answers_through_the_forward_on_this_machine(host_backend):
    with urllib.request.urlopen(f"{host_backend.serve_url}/hello", timeout=10) as resp:
        assert resp.status == 200
        assert resp.read()


def test_hello_answers_from_inside_the_cluster_by_service_name(host_backend):
    """A pod resolves the serve Service with CoreDNS and reaches it through kube-proxy's rules."""
    head = addons.kubectl(
        "-n", NAMESPACE, "get", "pods", "-l", "ray.io/node-type=head", "-o", "jsonpath={.items[0].metadata.name}"
    ).stdout
    url = f"http://ray-serve-app-serve-svc.{NAMESPACE}.svc.cluster.local:8000/hello"
    out = addons.kubectl("-n", NAMESPACE, "exec", head, "-c", "ray-head", "--", "wget", "-qO-", url)
    assert out.stdout.strip()


def test_every_listener_of_the_cluster_is_on_loopback_or_the_bridge(host_backend):
    """No component listens on 0.0.0.0 or on this machine's own interface (pods have their own namespaces)."""
    import psutil

    from helpers.host import cluster

    ours = set(cluster.started_pids().values()) | set(cluster.cache_processes())
    listening = [
        (c.laddr.ip, c.laddr.port, c.pid)
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    ]
    assert listening, "no listener found for the cluster's processes"
    assert all(ip in ("127.0.0.1", network.NODE_IP) for ip, _, _ in listening), listening
