"""A fake Kubernetes API that follows KubeRay's RayService timeline on an explicit fake clock.

FakeKube (tests/fakes.py) answers from scripted snapshots; this one plays what the operator does over
time, so tests can check that the backend follows it (the same method names as the kube backend's API
object, plus a Service's EndpointSlices). Nothing sleeps: ``advance(seconds)`` moves the clock and
applies every step that is due. It stays where the host cluster cannot go: the kind and kubernetes
backends' code paths (the API server's pod port-forward, kubectl as a FakeCommands response), Redis cleanup
Jobs that fail or hang for minutes, and timings a test sets. What it plays is held to what KubeRay did on the
host cluster: tests/unit/test_kuberay_timeline_recorded.py runs the same operations here and there
(tests/kuberay_recorded.py) and compares them step by step.

The timeline, as KubeRay runs it (v1.7.0's code; the host cluster's v1.6.1 where they differ, named):
- A RayService applied: a RayCluster ``<name>-<5 chars>`` (pending: ``pendingServiceStatus``, Ready False
  with reason Initializing), its head pod ``<cluster>-head-<5 chars>`` and worker pods
  ``<cluster>-<group>-worker-<5 chars>`` (each Pending for ``pod_start_seconds``, then Running), and a Secret
  named after the RayCluster with its own random ``auth_token``. Once its apps are RUNNING
  (``cluster_ready_seconds``) the cluster is promoted: it becomes ``activeServiceStatus`` (its applications
  shown from the next reconcile), and ``<name>-head-svc`` / ``<name>-serve-svc`` select its pods.
- A ``rayClusterConfig`` change (anything but replica counts): a pending RayCluster next to the active
  one (UpgradeInProgress True, BothActivePendingClustersExist); its apps RUNNING after
  ``cluster_ready_seconds``; then promotion (``activeServiceStatus`` switches, both Services' endpoints
  switch to the new pods); the old RayCluster, its pods and Secret are deleted
  ``deletion_delay_seconds`` (rayClusterDeletionDelaySeconds, default 60) later.
- A ``serveConfigV2``-only change: in place on the same cluster (a user_config change: RUNNING all along,
  as recorded; ``in_place_seconds`` > 0 shows DEPLOYING first, as the host cluster did in other runs); its
  pods stay behind the Services (their proxies keep serving the applications that run).
- A pod deleted: a worker pod is gone after ``worker_termination_seconds``; a head pod stays Running and
  Ready (terminating, out of the EndpointSlices) for ``termination_seconds``, then Failed as long again, then
  gone. KubeRay makes the new pod (a new name) once the old one is gone. A worker lost: its applications
  UNHEALTHY until the new worker pod is ready (Serve places the replicas again). The head lost: until a new
  head pod runs, the RayService's status is what KubeRay last saw (apps RUNNING, Ready True); once it runs,
  KubeRay shows no application until the new head's dashboard answers. Without GCS fault tolerance the new
  head is Ready ``2`` s after it runs, the operator PUTs the Serve config again (apps DEPLOYING, RUNNING
  ``cluster_ready_seconds`` after the new pod was made); the worker pods' proxies answer from their old Serve
  meanwhile (so Ready stays True, as recorded; in other runs the host cluster showed Ready False,
  ZeroServeEndpoints, until the apps were RUNNING), and once the apps are RUNNING their containers restart
  in place (their raylets exit: the new GCS does not know them).
- GCS fault tolerance (``rayClusterConfig.gcsFaultToleranceOptions``, Redis backend), as KubeRay v1.7.0 does
  it (ray-operator/controllers/ray/common/pod.go configureGCSFaultTolerance, raycluster_controller.go):
  the head gets RAY_REDIS_ADDRESS, REDIS_PASSWORD (from the Secret of ``redisPassword.valueFrom``),
  RAY_external_storage_namespace (the RayCluster's UID) and ``--redis-password=$REDIS_PASSWORD``, the
  workers RAY_gcs_rpc_server_reconnect_timeout_s=600, the head pod the annotation ray.io/ft-enabled=true.
  The head is ready only while Redis is (its GCS keeps its tables there, under the storage namespace).
  A new head pod is ready ``gcs_recover_seconds`` after it runs, with the applications read back from Redis
  (no new PUT); meanwhile the worker pods keep their ``ray.io/serve=true`` label (KubeRay sets it on every
  worker), serve, and do not restart. The RayCluster has the finalizer
  ray.io/gcs-ft-redis-cleanup-finalizer: deleted, its pods go first, then a Job ``<cluster>-redis-cleanup``
  (the head's pod template: its volumes, its env from the Secret) deletes the storage namespace from Redis
  (``cleanup_seconds``). A Job pod that cannot start (its Secret or ConfigMap gone) fails at its
  activeDeadlineSeconds (300 s); one that cannot reach Redis fails after 120 retries 0.5 s apart (60 s);
  KubeRay force-removes the finalizer 300 s after the deletion at the latest.
- The RayService deleted: its RayClusters are deleted. v1.7.0's finalizer ray.io/rayservice-finalizer holds
  the RayService until none of them exists (``rayservice_finalizer``); v1.6.1 has none: the RayService goes
  at once. Either way their pods go after it, workers first.

Objects are returned in the kubernetes client's ``to_dict()`` shape (snake_case), as KubeAPI returns them;
the RayService as the custom-objects API returns it (camelCase).
"""

from __future__ import annotations

import base64
import copy
import random
from typing import Any

from .gcs_ft import GcsFaultTolerance
from .objects import ALPHABET, Cluster, FakeClock, Pod, Service, app_names, without_replicas
from .views import Views


class KubeRayTimeline(GcsFaultTolerance, Views):
    def __init__(
        self,
        namespace: str = "rayservice-tutorial",
        cluster_ready_seconds: float = 30.0,
        head_restart_seconds: float = 0.0,
        termination_seconds: float = 2.0,
        deletion_delay_seconds: float = 60.0,
        seconds_per_read: float = 0.0,
        seed: int = 0,
        redis_ready_seconds: float = 3.0,
        gcs_recover_seconds: float = 8.0,
        cleanup_seconds: float = 5.0,
        pod_start_seconds: float = 2.0,
        worker_termination_seconds: float = 0.5,
        rayservice_finalizer: bool = True,
        in_place_seconds: float = 0.0,
    ):
        self.namespace = namespace
        self.clock = FakeClock()
        self.cluster_ready_seconds = cluster_ready_seconds
        self.head_restart_seconds = head_restart_seconds
        self.termination_seconds = termination_seconds
        self.deletion_delay_seconds = deletion_delay_seconds
        self.seconds_per_read = seconds_per_read  # >0: each get_rayservice moves the clock (polling loops)
        self.redis_ready_seconds = redis_ready_seconds
        self.gcs_recover_seconds = gcs_recover_seconds
        self.cleanup_seconds = cleanup_seconds
        self.pod_start_seconds = pod_start_seconds  # a new pod is Pending (its containers starting) this long
        # A deleted head pod: still Running and Ready (terminating) for termination_seconds, then Failed (its
        # container exited) for as long again; a deleted worker pod is gone after worker_termination_seconds.
        self.worker_termination_seconds = worker_termination_seconds
        # ray.io/rayservice-finalizer (KubeRay v1.7.0) holds a deleted RayService until its RayClusters are gone;
        # v1.6.1 (the host backend's) has none: the RayService goes at once, its RayClusters after it.
        self.rayservice_finalizer = rayservice_finalizer
        # An in-place serveConfigV2 change: its applications DEPLOYING this long. The host cluster showed a
        # user_config change RUNNING all along in some runs, DEPLOYING for a moment in others.
        self.in_place_seconds = in_place_seconds
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, name) -> Deployment/Service/Secret/ConfigMap
        self.created_at: dict[tuple[str, str], float] = {}
        self.redis_keys: set[str] = set()  # the storage namespaces (RayCluster UIDs) with GCS tables in Redis
        self.jobs: list[tuple[float, str, str]] = []  # (when, Job name, outcome) of the Redis cleanup Jobs
        self.calls: list[tuple] = []
        self.history: list[tuple[float, str]] = []  # (time, what KubeRay did), for readers of a failure
        self.services: dict[str, Service] = {}
        self.clusters: dict[str, Cluster] = {}
        self.pods: dict[str, Pod] = {}
        self.pod_clusters: dict[str, str] = {}  # every pod ever created -> its RayCluster
        self.secrets: dict[str, str] = {}  # Secret name -> auth_token
        self.events: list[dict[str, Any]] = []
        self._applied: list[dict[str, Any]] = []
        self._restarts: list[tuple[float, str, str, str]] = []  # (when, cluster, node type, group)
        self._rng = random.Random(seed)
        self._cluster_letters = iter("abcdefghijklmnopqrstuvwxyz")
        self._ips = (f"10.244.0.{i}" for i in range(2, 255))

    # -- time --------------------------------------------------------------------------------

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the fake clock by ``seconds``, in steps of at most ``step``, applying what is due."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = min(end, self.clock.now + step)
            self._reconcile()

    def run_until(self, condition, limit: float = 600.0, step: float = 1.0) -> float:
        """Advance until ``condition()`` is true; returns the fake time it took. Fails after ``limit``."""
        start = self.clock.now
        while not condition():
            if self.clock.now - start >= limit:
                raise AssertionError(f"not reached within {limit} fake seconds; history: {self.history}")
            self.advance(step, step)
        return self.clock.now - start

    def _log(self, what: str) -> None:
        self.history.append((self.clock.now, what))

    def _terminated_at(self, pod: Pod) -> float:
        if pod.node_type == "head":
            return pod.deleted_at + 2 * self.termination_seconds
        return pod.deleted_at + self.worker_termination_seconds

    def _reconcile(self) -> None:
        now = self.clock.now
        for name, pod in list(self.pods.items()):
            if pod.deleted_at is not None and now >= self._terminated_at(pod):
                del self.pods[name]
                if pod.replace and pod.cluster in self.clusters:  # KubeRay makes a new pod once this one is gone
                    delay = self.head_restart_seconds if pod.node_type == "head" else 0.0
                    self._restarts.append((now + delay, pod.cluster, pod.node_type, pod.group))
        for when, cluster, node_type, group in list(self._restarts):
            if now >= when and cluster in self.clusters:
                self._restarts.remove((when, cluster, node_type, group))
                c = self.clusters[cluster]
                start = now + self.pod_start_seconds
                if node_type == "head" and c.ft:  # the GCS reads its tables back from Redis: no new PUT
                    pod = self._new_pod(c, "head", "headgroup", start + self.gcs_recover_seconds)
                elif node_type == "head":
                    c.ready_at = now + self.cluster_ready_seconds  # the operator PUTs the Serve config again
                    pod = self._new_pod(c, "head", "headgroup", start + 2.0)  # Ready before the apps RUNNING
                else:
                    pod = self._new_pod(c, "worker", group, max(start + 1.0, c.ready_at or now))
                    c.unhealthy_until = pod.ready_at  # Serve places the lost replicas on it
                self._log(f"pod {pod.name} created for RayCluster {cluster}")
        for svc in self.services.values():
            active = self.clusters.get(svc.active or "")
            if svc.frozen is not None and active is not None and self._head_running(active):
                svc.frozen, active.head_seen_at = None, now  # KubeRay reads the new head's Serve
                self._log(f"a new head runs in {active.name}: KubeRay reads its Serve applications")
        for pod in self.pods.values():
            # Without GCS FT a worker's proxy answers from its old Serve until its raylet exits (the new GCS does
            # not know it): its container restarts in place once the applications are RUNNING again.
            cluster = self.clusters.get(pod.cluster)
            if pod.old_serve and cluster is not None and cluster.ready_at is not None and now >= cluster.ready_at:
                pod.old_serve, pod.restarts = False, pod.restarts + 1
                pod.ready_at = now + self.pod_start_seconds
                self._log(f"pod {pod.name}: its container restarted (its raylet left the old GCS)")
        for svc in self.services.values():
            svc.observed = svc.generation
            pending = self.clusters.get(svc.pending) if svc.pending else None
            if pending and self._apps_running(pending):
                old = svc.active
                svc.active, svc.pending, svc.serve_svc = pending.name, None, True
                pending.promoted_at = now
                self._log(f"promoted RayCluster {pending.name}: {svc.name}-head-svc and -serve-svc select it")
                if old and old in self.clusters:
                    self.clusters[old].delete_at = now + self.deletion_delay_seconds
        for name, cluster in list(self.clusters.items()):
            if cluster.delete_at is not None and now >= cluster.delete_at and cluster.deleting_since is None:
                self._delete_cluster(name)
        for cluster in list(self.clusters.values()):
            if cluster.ft and cluster.deleting_since is None and self._apps_running(cluster):
                self.redis_keys.add(cluster.uid)  # its GCS writes its tables under its storage namespace
            if cluster.deleting_since is not None:
                self._finalize(cluster)
        for name, svc in list(self.services.items()):
            if svc.deleting_since is not None and not any(c.service == name for c in self.clusters.values()):
                del self.services[name]
                self._log(f"RayService {name} deleted (no RayCluster left: its finalizer removed)")

    # -- the operator's objects ----------------------------------------------------------------

    def _suffix(self) -> str:
        return "".join(self._rng.choice(ALPHABET) for _ in range(5))

    def _create_cluster(self, svc: Service) -> Cluster:
        name = f"{svc.name}-{next(self._cluster_letters) * 5}"
        config = copy.deepcopy(svc.spec.get("rayClusterConfig") or {})
        apps = app_names(svc.spec)
        ready_at = self.clock.now + self.cluster_ready_seconds
        cluster = Cluster(name, svc.name, config, apps, self.clock.now, ready_at)
        options = config.get("gcsFaultToleranceOptions")
        cluster.ft = isinstance(options, dict) and (options.get("backend") or "redis") == "redis"
        cluster.uid = f"uid-{name}-{self._suffix()}"
        self.clusters[name] = cluster
        self._new_pod(cluster, "head", "headgroup", ready_at)
        for group in config.get("workerGroupSpecs") or []:
            for _ in range(int(group.get("replicas", 1))):
                self._new_pod(cluster, "worker", group.get("groupName", "workers"), ready_at)
        self.secrets[name] = f"token-of-{name}-{self._suffix()}"  # KubeRay: a random token per RayCluster
        self._log(f"created RayCluster {name} with its Secret {name}")
        return cluster

    def _new_pod(self, cluster: Cluster, node_type: str, group: str, ready_at: float | None) -> Pod:
        stem = f"{cluster.name}-head" if node_type == "head" else f"{cluster.name}-{group}-worker"
        name = f"{stem}-{self._suffix()}"
        labels = {
            "ray.io/cluster": cluster.name,
            "ray.io/node-type": node_type,
            "ray.io/group": group,
            "ray.io/is-ray-node": "yes",
        }
        pod = Pod(name, cluster.name, node_type, group, next(self._ips), ready_at, labels=labels)
        pod.running_at = self.clock.now + self.pod_start_seconds
        self.pods[name] = pod
        self.pod_clusters[name] = cluster.name
        return pod

    def _delete_cluster(self, name: str) -> None:
        cluster = self.clusters.get(name)
        if cluster is not None and cluster.ft:  # a finalizer holds it until Redis is cleaned up
            if cluster.deleting_since is None:
                cluster.deleting_since = self.clock.now
        else:
            self.clusters.pop(name, None)
            self.secrets.pop(name, None)
        self._restarts = [r for r in self._restarts if r[1] != name]
        for pod in self.pods.values():
            if pod.cluster == name and pod.deleted_at is None:
                pod.deleted_at = self.clock.now
        self._log(
            f"deleted RayCluster {name} and its pods"
            + (" (finalizer: Redis cleanup)" if cluster and cluster.ft else "")
        )

    def _pod_ready(self, pod: Pod) -> bool:
        """The pod's Ready condition: a terminating head keeps it until its container exits."""
        now = self.clock.now
        if pod.deleted_at is not None and (pod.node_type != "head" or now >= pod.deleted_at + self.termination_seconds):
            return False
        ready = pod.ready_at is not None and now >= max(pod.ready_at, pod.running_at)
        cluster = self.clusters.get(pod.cluster)
        if ready and pod.node_type == "head" and cluster is not None and cluster.ft:
            return self._redis_up()  # the GCS needs Redis
        return ready

    def _serving(self, pod: Pod) -> bool:
        """Ready and not terminating: what an EndpointSlice calls ready."""
        return pod.deleted_at is None and self._pod_ready(pod)

    def _head_running(self, cluster: Cluster) -> bool:
        return any(
            p.cluster == cluster.name
            and p.node_type == "head"
            and p.deleted_at is None
            and self.clock.now >= p.running_at
            for p in self.pods.values()
        )

    def _apps_running(self, cluster: Cluster) -> bool:
        heads = [p for p in self.pods.values() if p.cluster == cluster.name and p.node_type == "head"]
        return (
            cluster.ready_at is not None and self.clock.now >= cluster.ready_at and any(self._serving(p) for p in heads)
        )

    # -- the API the kube backend calls (names as in helpers/backends/kubeapi.py) --------------------

    def missing_rights(self, namespace: str, rights=None) -> list:
        """A learner with every right the tutorial needs."""
        self.calls.append(("missing_rights", namespace))
        return []

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("apply", copy.deepcopy(obj)))
        self._applied.append(copy.deepcopy(obj))
        if obj.get("kind") == "RayService":
            self._apply_rayservice(obj)
        elif obj.get("kind") != "Namespace":
            key = (obj["kind"], obj["metadata"]["name"])
            self.created_at.setdefault(key, self.clock.now)
            self.objects[key] = copy.deepcopy(obj)
        return obj

    def applied(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self._applied if o["kind"] == kind]

    def _apply_rayservice(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        spec = copy.deepcopy(obj.get("spec") or {})
        svc = self.services.get(name)
        if svc is None:
            svc = self.services[name] = Service(name, 1, spec)
            svc.pending = self._create_cluster(svc).name
            return
        if spec == svc.spec:
            return
        old_spec, svc.spec, svc.generation = svc.spec, spec, svc.generation + 1
        current = self.clusters.get(svc.pending or svc.active or "")
        if without_replicas(spec.get("rayClusterConfig")) != without_replicas(old_spec.get("rayClusterConfig")):
            if svc.pending:  # KubeRay replaces a pending cluster whose config is outdated
                self._delete_cluster(svc.pending)
            svc.pending = self._create_cluster(svc).name
            self._log(f"rayClusterConfig changed: pending RayCluster {svc.pending}")
        elif current is not None:  # serveConfigV2 only: one more PUT on the same cluster, whose proxies keep serving
            current.apps = app_names(spec)
            current.deployed_at = self.clock.now + self.in_place_seconds

    def crd_installed(self, name: str = "rayservices.ray.io") -> bool:
        self.calls.append(("crd_installed", name))
        return True

    def deployment_available(self, namespace: str, name: str) -> bool:
        self.calls.append(("deployment_available", namespace, name))
        return True

    def get_rayservice(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("get_rayservice", namespace, name))
        if self.seconds_per_read:
            self.advance(self.seconds_per_read)
        svc = self.services.get(name) if namespace == self.namespace else None
        if svc is None:
            return None
        meta: dict[str, Any] = {"finalizers": ["ray.io/rayservice-finalizer"]}
        if svc.deleting_since is not None:
            meta["deletionTimestamp"] = f"fake+{svc.deleting_since:.0f}s"
        return {
            "apiVersion": "ray.io/v1",
            "kind": "RayService",
            "metadata": {"name": name, "namespace": namespace, "generation": svc.generation, **meta},
            "spec": copy.deepcopy(svc.spec),
            "status": self._status(svc),
        }

    def get_raycluster(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("get_raycluster", namespace, name))
        cluster = self.clusters.get(name) if namespace == self.namespace else None
        if cluster is None:
            return None
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": cluster.uid}
        if cluster.ft:
            meta["finalizers"] = ["ray.io/gcs-ft-redis-cleanup-finalizer"]
        if cluster.deleting_since is not None:
            meta["deletionTimestamp"] = f"fake+{cluster.deleting_since:.0f}s"
        return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": meta}

    def delete_rayservice(self, namespace: str, name: str) -> None:
        """The RayService's finalizer deletes its RayClusters (at once: no deletion delay) and holds the
        RayService until none is left; without GCS FT that is immediate here."""
        self.calls.append(("delete_rayservice", namespace, name))
        svc = self.services.get(name)
        if svc is None or svc.deleting_since is not None:
            return
        svc.deleting_since = self.clock.now
        for cluster in [c.name for c in self.clusters.values() if c.service == name]:
            self._delete_cluster(cluster)
        if not self.rayservice_finalizer or not any(c.service == name for c in self.clusters.values()):
            del self.services[name]

    def delete_configmap(self, namespace: str, name: str) -> None:
        self.calls.append(("delete_configmap", namespace, name))
        self._delete_object("ConfigMap", name)

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.calls.append(("list_pods", namespace, selector))
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        return [
            self._pod_dict(p)
            for p in sorted(self.pods.values(), key=lambda p: p.name)
            if all(self._labels(p).get(k) == v for k, v in wanted.items())
        ]

    def delete_pod(self, namespace: str, name: str) -> None:
        """What `kubectl delete pod` does: terminating now, and KubeRay makes a new pod (a new name)."""
        self.calls.append(("delete_pod", namespace, name))
        pod = self.pods.get(name)
        if pod is None or pod.deleted_at is not None:
            return
        cluster = self.clusters[pod.cluster]
        if pod.node_type == "head":
            svc = self.services.get(cluster.service)
            if svc is not None and svc.active == cluster.name and svc.frozen is None:
                svc.frozen = self._status(svc)  # KubeRay cannot reach a head: it keeps what it last saw
            if not cluster.ft:
                cluster.ready_at = None  # no head: no Serve until the new head redeploys it
                for worker in self.pods.values():
                    if worker.cluster == cluster.name and worker.node_type == "worker" and worker.deleted_at is None:
                        worker.old_serve = True
        else:
            cluster.unhealthy_until = float("inf")  # its replicas are gone until Serve places them again
        pod.deleted_at, pod.replace = self.clock.now, True
        self._log(f"pod {name} deleted")

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        self.calls.append(("read_secret", namespace, name))
        if ("Secret", name) in self.objects and namespace == self.namespace:
            data = self.objects[("Secret", name)].get("stringData") or {}
            return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        token = self.secrets.get(name) if namespace == self.namespace else None
        return {"auth_token": base64.b64encode(token.encode()).decode()} if token else None

    def list_events(self, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(("list_events", namespace))
        return copy.deepcopy(self.events)

    # -- helpers for tests ---------------------------------------------------------------------------

    def kubectl(self, args: list[str]) -> tuple[int, str, str]:
        """A FakeCommands response for `kubectl ... delete pod NAME ...`: the pod goes as with kubectl.
        Use: ``FakeCommands(responses={("kubectl",): timeline.kubectl})``."""
        if "delete" in args and args[args.index("delete") + 1] == "pod":
            name = args[args.index("delete") + 2]
            self.delete_pod(args[args.index("-n") + 1] if "-n" in args else self.namespace, name)
            return 0, f'pod "{name}" deleted\n', ""
        return 0, "", ""

    def live_pods(self) -> set[str]:
        """Pods that accept connections (running or still terminating)."""
        return set(self.pods)

    def token_of(self, cluster: str) -> str | None:
        return self.secrets.get(cluster)

    def cluster_of(self, pod: str) -> str:
        """The RayCluster of ``pod``, also after the pod is gone."""
        return self.pod_clusters[pod]

    def head_pod(self, cluster: str) -> str | None:
        heads = [
            p.name for p in self.pods.values() if p.cluster == cluster and p.node_type == "head" and not p.deleted_at
        ]
        return heads[0] if heads else None
