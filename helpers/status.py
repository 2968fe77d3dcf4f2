"""The RayService status shape, built from the Serve API's details.

Mirrors what KubeRay v1.7.0 writes into ``RayService.status``: a ``Ready`` condition
(reasons Initializing / NonZeroServeEndpoints / ZeroServeEndpoints), ``numServeEndpoints``,
and ``activeServiceStatus.applicationStatuses.<app>.serveDeploymentStatuses.<deployment>``.
Each deployment also carries ``replicaStates`` (replicas per state) and ``targetReplicas``,
read from the same API, which the custom resource does not show.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def condition(type_: str, ok: bool, reason: str, message: str = "") -> dict[str, str]:
    return {"type": type_, "status": "True" if ok else "False", "reason": reason, "message": message}


def application_statuses(details: dict[str, Any]) -> dict[str, Any]:
    apps = {}
    for name, app in (details.get("applications") or {}).items():
        deployments = {}
        for dep_name, dep in (app.get("deployments") or {}).items():
            states = Counter(r.get("state", "UNKNOWN") for r in dep.get("replicas") or [])
            deployments[dep_name] = {
                "status": dep.get("status", ""),
                "message": dep.get("message", ""),
                "targetReplicas": dep.get("target_num_replicas"),
                "replicaStates": dict(sorted(states.items())),
            }
        apps[name] = {
            "status": app.get("status", ""),
            "message": app.get("message", ""),
            "routePrefix": app.get("route_prefix"),
            "serveDeploymentStatuses": deployments,
        }
    return apps


def serve_endpoints(details: dict[str, Any]) -> int:
    """Healthy proxies on nodes that can serve: the head, or a node running a replica.

    KubeRay counts ready pods behind ``<name>-serve-svc``; a worker pod without a replica is
    NotReady by design, so it does not count.
    """
    serving = _serving_nodes(details)
    return sum(
        1
        for node_id, proxy in (details.get("proxies") or {}).items()
        if proxy.get("status") == "HEALTHY" and node_id in serving
    )


def replicas(details: dict[str, Any], app: str | None = None, state: str | None = "RUNNING") -> list[dict[str, Any]]:
    """Serve's replicas in ``details`` (of ``app``, or of every application) in ``state`` (None: in any)."""
    apps = details.get("applications") or {}
    chosen = [apps.get(app) or {}] if app is not None else list(apps.values())
    return [
        r
        for a in chosen
        for dep in (a.get("deployments") or {}).values()
        for r in dep.get("replicas") or []
        if state is None or r.get("state") == state
    ]


def _serving_nodes(details: dict[str, Any]) -> set[str]:
    """The nodes whose proxy should serve: the head (Serve's controller runs there) and every node with a
    RUNNING replica."""
    head = (details.get("controller_info") or {}).get("node_id")
    nodes = {r.get("node_id") for r in replicas(details)}
    return {node for node in nodes | {head} if node}


def proxies_not_ready(details: dict[str, Any]) -> list[str]:
    """The nodes (ids, shortened) that should run a healthy Serve proxy and do not yet.

    A node should when it is the head or runs a RUNNING replica; a proxy Serve lists elsewhere counts only
    while it is STARTING (one DRAINING on a node whose replicas left still has its routes). On Kubernetes such
    a pod is not behind ``<name>-serve-svc`` (KubeRay adds a pod once its proxy is healthy), so it gets no
    traffic. The local backend's proxies all listen on 127.0.0.1 and the same port (Serve sets SO_REUSEPORT),
    where the kernel hands a new connection to any of them: a proxy still starting, which answers 404 until
    Serve's controller sends it the routes, would get a share of the requests.
    """
    proxies = details.get("proxies") or {}
    waiting = {node for node in _serving_nodes(details) if (proxies.get(node) or {}).get("status") != "HEALTHY"}
    waiting |= {node for node, proxy in proxies.items() if proxy.get("status") == "STARTING"}
    return sorted(str(node)[:8] for node in waiting)


def rayservice_status(details: dict[str, Any], service_name: str, cluster_name: str, activated: bool) -> dict[str, Any]:
    """``activated``: has this service ever had all its applications RUNNING (KubeRay then
    promotes the cluster to active; before that Ready is False with reason Initializing)."""
    apps = application_statuses(details)
    endpoints = serve_endpoints(details) if apps else 0
    if not activated:
        ready = condition("Ready", False, "Initializing", "waiting for every application to be RUNNING")
    elif endpoints > 0:
        ready = condition("Ready", True, "NonZeroServeEndpoints", f"{endpoints} serve endpoint(s)")
    else:
        ready = condition("Ready", False, "ZeroServeEndpoints", "no healthy serve endpoint")
    return {
        "serviceName": service_name,
        "conditions": [ready, condition("UpgradeInProgress", False, "NoPendingCluster")],
        "numServeEndpoints": endpoints,
        "activeServiceStatus": {"rayClusterName": cluster_name, "applicationStatuses": apps},
        "pendingServiceStatus": {},
    }


def is_ready(status: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def summary(status: dict[str, Any]) -> str:
    """One line: 'hello RUNNING (2/2), predict-a DEPLOYING (0/1)'. Without Serve's own counts (a RayService's
    status names each deployment but not its replicas) only the status: 'hello RUNNING'."""
    parts = []
    for name, app in status["activeServiceStatus"]["applicationStatuses"].items():
        deployments = app["serveDeploymentStatuses"].values()
        if deployments and all(d["targetReplicas"] is None for d in deployments):
            parts.append(f"{name} {app['status']}")
            continue
        running = sum(d["replicaStates"].get("RUNNING", 0) for d in app["serveDeploymentStatuses"].values())
        target = sum(d["targetReplicas"] or 0 for d in app["serveDeploymentStatuses"].values())
        parts.append(f"{name} {app['status']} ({running}/{target} replicas)")
    return ", ".join(parts) or "no applications"


def from_custom_resource(name: str, raw: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    """The same shape from a real ``RayService.status`` (kind / kubernetes backends).

    ``details`` (Serve's API through the dashboard port-forward, when reachable) adds route
    prefixes and replica counts, which the custom resource does not carry.
    """
    active = raw.get("activeServiceStatus") or {}
    extra = application_statuses(details) if details else {}
    apps = {}
    for app_name, app in (active.get("applicationStatuses") or {}).items():
        more = extra.get(app_name) or {}
        deployments = {}
        for dep_name, dep in (app.get("serveDeploymentStatuses") or {}).items():
            more_dep = (more.get("serveDeploymentStatuses") or {}).get(dep_name) or {}
            deployments[dep_name] = {
                "status": dep.get("status", ""),
                "message": dep.get("message", ""),
                "targetReplicas": more_dep.get("targetReplicas"),
                "replicaStates": more_dep.get("replicaStates", {}),
            }
        apps[app_name] = {
            "status": app.get("status", ""),
            "message": app.get("message", ""),
            "routePrefix": more.get("routePrefix"),
            "serveDeploymentStatuses": deployments,
        }
    conditions = raw.get("conditions") or [
        condition("Ready", False, "Initializing"),
        condition("UpgradeInProgress", False, "Initializing"),
    ]
    return {
        "serviceName": name,
        "conditions": conditions,
        # Older KubeRay releases wrote the field with a capital N.
        "numServeEndpoints": raw.get("numServeEndpoints", raw.get("NumServeEndpoints", 0)),
        "activeServiceStatus": {"rayClusterName": active.get("rayClusterName"), "applicationStatuses": apps},
        "pendingServiceStatus": raw.get("pendingServiceStatus") or {},
    }


def running_replicas(status: dict[str, Any]) -> int:
    """RUNNING replicas over every application and deployment."""
    return sum(
        d["replicaStates"].get("RUNNING", 0)
        for app in status["activeServiceStatus"]["applicationStatuses"].values()
        for d in app["serveDeploymentStatuses"].values()
    )


def stuck(status: dict[str, Any]) -> list[str]:
    """Serve's own message for every application and deployment that is not RUNNING/HEALTHY, first line
    first: 'predict-c/Model UPDATING: Deployment ... has 1 replicas that have taken more than 30s to be
    scheduled ... Resources required for each replica: {"CPU": 1} ...'."""
    lines = []
    for app_name, app in status["activeServiceStatus"]["applicationStatuses"].items():
        if app.get("status") == "RUNNING":
            continue
        deployments = app.get("serveDeploymentStatuses") or {}
        said = False
        for dep_name, dep in deployments.items():
            if dep.get("status") not in ("HEALTHY", "") and dep.get("message"):
                lines.append(f"{app_name}/{dep_name} {dep['status']}: {' '.join(dep['message'].split())}")
                said = True
        if not said:
            message = " ".join((app.get("message") or "no message from Serve yet").split())
            lines.append(f"{app_name} {app.get('status') or 'NOT_STARTED'}: {message}")
    return lines


def timeout_report(status: dict[str, Any] | None) -> str:
    """What a timed-out wait says first: Serve's messages, then a short status table."""
    if not status:
        return "No status could be read from Serve's API during the wait."
    from helpers.display import status_table

    messages = stuck(status)
    head = "What Serve says:\n  " + "\n  ".join(messages) if messages else "Serve reports nothing stuck."
    return head + "\n" + status_table(status)
