"""The RayService status shape built from Serve's details (the shape KubeRay v1.7.0 writes)."""

from helpers import display, status


def details(app_status="RUNNING", replica_states=("RUNNING", "RUNNING"), proxy="HEALTHY"):
    replicas = [
        {"node_id": "head" if i == 0 else "worker", "state": s, "replica_id": f"r{i}"}
        for i, s in enumerate(replica_states)
    ]
    return {
        "controller_info": {"node_id": "head"},
        "proxies": {
            "head": {"status": proxy},
            "worker": {"status": proxy},
            "idle-node": {"status": "HEALTHY"},
        },
        "applications": {
            "hello": {
                "status": app_status,
                "message": "",
                "route_prefix": "/hello",
                "deployments": {
                    "Hello": {"status": "HEALTHY", "message": "", "target_num_replicas": 2, "replicas": replicas}
                },
            }
        },
    }


def ready(s):
    return next(c for c in s["conditions"] if c["type"] == "Ready")


def test_ready_when_activated_and_endpoints():
    s = status.rayservice_status(details(), "svc", "svc-local", activated=True)
    assert ready(s) == {
        "type": "Ready",
        "status": "True",
        "reason": "NonZeroServeEndpoints",
        "message": "2 serve endpoint(s)",
    }
    # The idle node's proxy does not count: a pod without replicas is NotReady in KubeRay.
    assert s["numServeEndpoints"] == 2
    dep = s["activeServiceStatus"]["applicationStatuses"]["hello"]["serveDeploymentStatuses"]["Hello"]
    assert dep == {"status": "HEALTHY", "message": "", "targetReplicas": 2, "replicaStates": {"RUNNING": 2}}
    assert status.is_ready(s)


def test_initializing_before_first_running():
    s = status.rayservice_status(details("DEPLOYING", ("STARTING",)), "svc", "svc-local", activated=False)
    assert ready(s)["reason"] == "Initializing" and not status.is_ready(s)


def test_zero_endpoints_when_proxies_unhealthy():
    s = status.rayservice_status(details(proxy="UNHEALTHY"), "svc", "svc-local", activated=True)
    assert ready(s)["reason"] == "ZeroServeEndpoints" and s["numServeEndpoints"] == 0


def test_a_node_with_a_replica_and_no_healthy_proxy_yet_is_named():
    assert status.proxies_not_ready(details()) == []
    # Serve starts the worker's proxy after its replica is RUNNING: not listed yet, then STARTING.
    missing = details()
    del missing["proxies"]["worker"]
    assert status.proxies_not_ready(missing) == ["worker"]
    starting = details()
    starting["proxies"]["worker"]["status"] = "STARTING"
    assert status.proxies_not_ready(starting) == ["worker"]
    # A proxy starting on a node without replicas still shares the port (and has no routes yet): waited for.
    idle = details()
    idle["proxies"]["idle-node"]["status"] = "STARTING"
    assert status.proxies_not_ready(idle) == ["idle-nod"]
    # One draining there (its node's replicas left) still routes; Serve removes it once drained.
    idle["proxies"]["idle-node"]["status"] = "DRAINING"
    assert status.proxies_not_ready(idle) == []
    # Ready (KubeRay's condition) is unchanged: it counts healthy endpoints, as KubeRay does.
    assert status.is_ready(status.rayservice_status(starting, "svc", "svc-local", activated=True))


def test_summary_and_tables():
    s = status.rayservice_status(details("DEPLOYING", ("RUNNING", "STARTING")), "svc", "c", activated=True)
    assert status.summary(s) == "hello DEPLOYING (1/2 replicas)"
    table = display.status_table(s)
    assert table.splitlines()[0] == "RayService svc: Ready=True (NonZeroServeEndpoints)"
    assert "hello        DEPLOYING   Hello       HEALTHY  1/2" in table
    assert display.route_table(s).splitlines()[2].split() == ["/hello", "hello", "DEPLOYING", "1"]
