"""Ray Serve inside the fake KubeRay cluster: the replicas, proxies and controller the dashboard reports.

KubeRayTimeline (tests/kuberay_timeline.py) plays what the operator does to pods and Services over time;
this subclass adds what Serve does inside those pods, on the same fake clock, so the kube backend's faults
(``kubectl exec <pod> -- kill -9 <pid>``, ``pkill -9 -f ray::ProxyActor``, ``kubectl delete pod``) and
the waits that follow them can be run against it exactly as against the local backend's real Ray:

- While a cluster's Serve controller is up (a ready head pod, its applications deployed), each deployment
  is kept at its ``num_replicas``: a missing replica is started (STARTING) on the ready pod with the fewest,
  and is RUNNING ``replica_start_seconds`` later, with a new replica id and pid.
- A replica killed with ``kill -9 <pid>`` in its pod is gone at once (the controller notices and starts one).
- Every ready pod runs an HTTP proxy actor. ``pkill -9 -f ray::ProxyActor`` in a pod: the proxy is UNHEALTHY
  until the controller's health checks give up on it and start a new actor (``proxy_restart_seconds``).
- A deleted pod takes its replicas and proxy with it. A head pod without GCS fault tolerance takes the whole
  Serve instance (KubeRay deploys the config again on the new head); with it, the worker pods' replicas live
  on and are found again by the recovered controller.
- An application whose ``import_path`` names a module or attribute that manifests/apps/ does not define is
  DEPLOY_FAILED with Serve's kind of message; the others deploy.

``serve_details(pod)`` is what ``GET /api/serve/applications/`` on that pod's dashboard answers (Serve's
REST schema, snake_case); the RayService's ``applicationStatuses`` follow the same model.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

import yaml

from helpers import config

from .kuberay_timeline import ALPHABET, Cluster, KubeRayTimeline


@dataclass
class Replica:
    replica_id: str
    pid: int
    app: str
    deployment: str
    pod: str
    running_at: float


@dataclass
class Proxy:
    actor_id: str
    dead_until: float | None = None  # killed: UNHEALTHY until the controller starts a new actor then


@functools.cache
def import_error(import_path: str) -> str | None:
    """Serve's error for ``module:attr`` against the application code every manifest mounts (None: imports)."""
    module, _, attr = import_path.partition(":")
    source = config.APPS_DIR / f"{module}.py"
    if not source.exists():
        return f"ModuleNotFoundError: No module named '{module}'"
    tree = ast.parse(source.read_text())
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if hasattr(t, "id")}
    names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    if attr not in names:
        return f"AttributeError: module '{module}' has no attribute '{attr}'"
    return None


class ServeOnKubeRay(KubeRayTimeline):
    def __init__(self, replica_start_seconds: float = 3.0, proxy_restart_seconds: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.replica_start_seconds = replica_start_seconds
        self.proxy_restart_seconds = proxy_restart_seconds
        self.replicas: dict[str, list[Replica]] = {}  # RayCluster -> its replicas
        self.proxy_actors: dict[str, Proxy] = {}  # pod -> its proxy
        self.node_ids: dict[str, str] = {}  # pod -> Ray node id
        self._pids = iter(range(4100, 1_000_000, 7))

    # -- Serve's application config of a cluster -------------------------------------------------

    def serve_config(self, cluster: Cluster) -> list[dict[str, Any]]:
        svc = self.services.get(cluster.service)
        applications = (yaml.safe_load((svc.spec if svc else {}).get("serveConfigV2") or "") or {}).get("applications")
        return [app for app in applications or [] if app["name"] in cluster.apps]

    def serve_up(self, cluster: Cluster) -> bool:
        """Serve's controller runs: a ready head pod whose GCS has the applications (deployed, or recovered)."""
        heads = [p for p in self.pods.values() if p.cluster == cluster.name and p.node_type == "head"]
        return cluster.ready_at is not None and any(self._pod_ready(p) for p in heads)

    # -- the clock -------------------------------------------------------------------------------

    def _reconcile(self) -> None:
        super()._reconcile()
        now = self.clock.now
        for name in list(self.replicas):
            if name not in self.clusters:
                del self.replicas[name]
        for pod in list(self.proxy_actors):
            if pod not in self.pods or self.pods[pod].deleted_at is not None:
                del self.proxy_actors[pod]
        for cluster in self.clusters.values():
            live = {p.name for p in self.pods.values() if p.cluster == cluster.name and p.deleted_at is None}
            if cluster.ready_at is None:  # the head (and its GCS) lost without fault tolerance: Serve is gone
                self.replicas[cluster.name] = []
                for pod in live:
                    self.proxy_actors.pop(pod, None)
                continue
            replicas = [r for r in self.replicas.get(cluster.name, []) if r.pod in live]
            if self.serve_up(cluster):
                replicas = self._scale(cluster, replicas)
                for pod in sorted(live):
                    proxy = self.proxy_actors.get(pod)
                    restarted = proxy is not None and proxy.dead_until is not None and now >= proxy.dead_until
                    if self._pod_ready(self.pods[pod]) and (proxy is None or restarted):
                        self.proxy_actors[pod] = Proxy(self._actor_id())
            self.replicas[cluster.name] = replicas

    def _scale(self, cluster: Cluster, replicas: list[Replica]) -> list[Replica]:
        wanted = {
            (app["name"], d["name"]): int(d.get("num_replicas", 1))
            for app in self.serve_config(cluster)
            if import_error(app["import_path"]) is None
            for d in app.get("deployments") or [{"name": app["import_path"].partition(":")[2]}]
        }
        kept = [r for r in replicas if (r.app, r.deployment) in wanted]
        ready = sorted(p.name for p in self.pods.values() if p.cluster == cluster.name and self._pod_ready(p))
        for (app, deployment), count in sorted(wanted.items()):
            have = [r for r in kept if (r.app, r.deployment) == (app, deployment)]
            kept = [r for r in kept if r not in have[count:]]  # scaled down
            # A deploy's first replicas are part of its deploy time; a replacement takes its own start.
            start = (
                max(cluster.deployed_at, self.clock.now) if not have else self.clock.now + self.replica_start_seconds
            )
            for _ in range(count - len(have)):
                if not ready:
                    break
                load = {pod: sum(1 for r in kept if r.pod == pod) for pod in ready}
                pod = min(ready, key=lambda p: (load[p], p))
                replica_id = "".join(self._rng.choice(ALPHABET) for _ in range(8))
                kept.append(Replica(replica_id, next(self._pids), app, deployment, pod, start))
        return kept

    def _actor_id(self) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(32))

    def node_id(self, pod: str) -> str:
        if pod not in self.node_ids:
            self.node_ids[pod] = "".join(self._rng.choice("0123456789abcdef") for _ in range(56))
        return self.node_ids[pod]

    # -- faults inside a pod (what `kubectl exec` runs) ------------------------------------------

    def kubectl(self, args: list[str]) -> tuple[int, str, str]:
        if "exec" in args and "--" in args:
            pod = args[args.index("--") - 1]
            command = args[args.index("--") + 1 :]
            if pod not in self.pods or self.pods[pod].deleted_at is not None:
                return 1, "", f'Error from server (NotFound): pods "{pod}" not found\n'
            if command[:2] == ["kill", "-9"]:
                return self._kill(pod, int(command[2]))
            if command == ["pkill", "-9", "-f", "ray::ProxyActor"]:
                proxy = self.proxy_actors.get(pod)
                if proxy is None or proxy.dead_until is not None:
                    return 1, "", ""  # pkill: no process matched
                # The same actor, UNHEALTHY, until the controller replaces it with a new one.
                proxy.dead_until = self.clock.now + self.proxy_restart_seconds
                self._log(f"proxy actor on {pod} killed")
                return 0, "", ""
            return 0, "", ""
        return super().kubectl(args)

    def _kill(self, pod: str, pid: int) -> tuple[int, str, str]:
        cluster = self.pods[pod].cluster
        replicas = self.replicas.get(cluster, [])
        victim = next((r for r in replicas if r.pod == pod and r.pid == pid), None)
        if victim is None:
            return 1, "", f"bash: line 1: kill: ({pid}) - No such process\n"
        replicas.remove(victim)
        self._log(f"replica {victim.replica_id} (pid {pid}) on {pod} killed")
        return 0, "", ""

    def proxy_healthy(self, pod: str) -> bool:
        proxy = self.proxy_actors.get(pod)
        return proxy is not None and proxy.dead_until is None

    # -- what the dashboard answers --------------------------------------------------------------

    def app_status(self, cluster: Cluster, app: dict[str, Any]) -> tuple[str, str]:
        failed = import_error(app["import_path"])
        if failed:
            return "DEPLOY_FAILED", f"Deploying app '{app['name']}' failed with exception:\n{failed}"
        if not self._apps_running(cluster) or self.clock.now < cluster.deployed_at:
            return "DEPLOYING", ""
        return "RUNNING", ""

    def serve_details(self, pod: str) -> dict[str, Any] | None:
        """``GET /api/serve/applications/`` on ``pod``'s dashboard (None: no dashboard there, not a ready head)."""
        p = self.pods.get(pod)
        if p is None or p.node_type != "head" or not self._pod_ready(p):
            return None
        cluster = self.clusters[p.cluster]
        pods = {q.name: q for q in self.pods.values() if q.cluster == cluster.name and q.deleted_at is None}
        applications = {}
        for app in self.serve_config(cluster):
            status, message = self.app_status(cluster, app)
            deployments = {}
            for d in app.get("deployments") or []:
                mine = [  # a deleted pod's replicas died with it
                    r
                    for r in self.replicas.get(cluster.name, [])
                    if (r.app, r.deployment) == (app["name"], d["name"]) and r.pod in pods
                ]
                deployments[d["name"]] = {
                    "name": d["name"],
                    "status": "HEALTHY" if status == "RUNNING" and all(self._running(r) for r in mine) else "UPDATING",
                    "message": "",
                    "target_num_replicas": int(d.get("num_replicas", 1)),
                    "replicas": [
                        {
                            "replica_id": r.replica_id,
                            "state": "RUNNING" if self._running(r) else "STARTING",
                            "pid": r.pid,
                            "actor_name": f"SERVE_REPLICA::{app['name']}#{d['name']}#{r.replica_id}",
                            "node_id": self.node_id(r.pod),
                            "node_ip": pods[r.pod].ip,
                        }
                        for r in mine
                    ],
                }
            applications[app["name"]] = {
                "name": app["name"],
                "route_prefix": app.get("route_prefix", "/"),
                "status": status,
                "message": message,
                "deployments": deployments if status != "DEPLOY_FAILED" else {},
            }
        proxies = {
            self.node_id(name): {
                "node_id": self.node_id(name),
                "node_ip": pods[name].ip,
                "actor_id": proxy.actor_id,
                "status": "HEALTHY" if proxy.dead_until is None else "UNHEALTHY",
            }
            for name, proxy in sorted(self.proxy_actors.items())
            if name in pods
        }
        return {
            "controller_info": {"node_id": self.node_id(pod), "node_ip": p.ip},
            "proxies": proxies,
            "applications": applications,
        }

    def _running(self, replica: Replica) -> bool:
        return self.clock.now >= replica.running_at

    def routes(self, pod: str) -> dict[str, str]:
        """Route prefix -> application, for the applications ``pod``'s proxy can send a request to now
        (RUNNING, with a RUNNING replica); empty when the pod has no healthy proxy."""
        p = self.pods.get(pod)
        if p is None or not self.proxy_healthy(pod):
            return {}
        cluster = self.clusters.get(p.cluster)
        if cluster is None:
            return {}
        return {
            app.get("route_prefix", "/"): app["name"]
            for app in self.serve_config(cluster)
            if any(
                r.app == app["name"] and self._running(r) and self.pods[r.pod].deleted_at is None
                for r in self.replicas.get(cluster.name, [])
                if r.pod in self.pods
            )
        }

    def _app_statuses(self, cluster: Cluster | None) -> dict[str, Any]:
        """The RayService's applicationStatuses: what KubeRay last read from this cluster's dashboard."""
        statuses = super()._app_statuses(cluster)
        if cluster is None:
            return statuses
        for app in self.serve_config(cluster):
            status, message = self.app_status(cluster, app)
            if status == "DEPLOY_FAILED" and app["name"] in statuses:
                statuses[app["name"]].update(status=status, message=message, serveDeploymentStatuses={})
        return statuses
