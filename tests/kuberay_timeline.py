"""A fake Kubernetes API that follows KubeRay v1.7.0's RayService timeline on an explicit fake clock.

FakeKube (tests/fakes.py) answers from scripted snapshots; this one plays what the operator does over
time, so tests can check that the backend follows it (the same method names as the kube backend's API
object, plus a Service's EndpointSlices). Nothing sleeps: ``advance(seconds)`` moves the clock and
applies every step that is due.

The timeline, as KubeRay v1.7.0 runs it:
- A RayService applied: a RayCluster ``<name>-<5 chars>`` (pending: ``pendingServiceStatus``, Ready False
  with reason Initializing), its head pod ``<cluster>-head-<5 chars>`` and worker pods
  ``<cluster>-<group>-worker-<5 chars>``, and a Secret named after the RayCluster with its own random
  ``auth_token``. Once its apps are RUNNING (``cluster_ready_seconds``) the cluster is promoted: it
  becomes ``activeServiceStatus``, and ``<name>-head-svc`` / ``<name>-serve-svc`` select its pods.
- A ``rayClusterConfig`` change (anything but replica counts): a pending RayCluster next to the active
  one (UpgradeInProgress True, BothActivePendingClustersExist); its apps RUNNING after
  ``cluster_ready_seconds``; then promotion (``activeServiceStatus`` switches, both Services' endpoints
  switch to the new pods); the old RayCluster, its pods and Secret are deleted
  ``deletion_delay_seconds`` (rayClusterDeletionDelaySeconds, default 60) later.
- A ``serveConfigV2``-only change: in place, apps DEPLOYING then RUNNING again on the same cluster; its
  pods stay behind the Services (their proxies keep serving the applications that run).
- A pod deleted: terminating (not ready) for ``termination_seconds``, then gone. A head pod comes back as
  a new pod with a new name after ``head_restart_seconds``; without GCS fault tolerance the operator PUTs
  the Serve config again, so its apps are RUNNING (and the pod ready) ``cluster_ready_seconds`` later.
  A worker pod comes back under a new name too.
- GCS fault tolerance (``rayClusterConfig.gcsFaultToleranceOptions``, Redis backend), as KubeRay v1.7.0 does
  it (ray-operator/controllers/ray/common/pod.go configureGCSFaultTolerance, raycluster_controller.go):
  the head gets RAY_REDIS_ADDRESS, REDIS_PASSWORD (from the Secret of ``redisPassword.valueFrom``),
  RAY_external_storage_namespace (the RayCluster's UID) and ``--redis-password=$REDIS_PASSWORD``, the
  workers RAY_gcs_rpc_server_reconnect_timeout_s=600, the head pod the annotation ray.io/ft-enabled=true.
  The head is ready only while Redis is (its GCS keeps its tables there, under the storage namespace).
  A deleted head pod comes back after ``head_restart_seconds`` and is ready ``gcs_recover_seconds`` later,
  with the applications read back from Redis (no new PUT); meanwhile the worker pods keep their
  ``ray.io/serve=true`` label (KubeRay sets it on every worker) and serve, and KubeRay reports no
  application status (it cannot reach the dashboard). The RayCluster has the finalizer
  ray.io/gcs-ft-redis-cleanup-finalizer: deleted, its pods go first, then a Job ``<cluster>-redis-cleanup``
  (the head's pod template: its volumes, its env from the Secret) deletes the storage namespace from Redis
  (``cleanup_seconds``). A Job pod that cannot start (its Secret or ConfigMap gone) fails at its
  activeDeadlineSeconds (300 s); one that cannot reach Redis fails after 120 retries 0.5 s apart (60 s);
  KubeRay force-removes the finalizer 300 s after the deletion at the latest. The RayService's own finalizer
  waits until none of its RayClusters exists.

Objects are returned in the kubernetes client's ``to_dict()`` shape (snake_case), as KubeAPI returns them;
the RayService as the custom-objects API returns it (camelCase).
"""

from __future__ import annotations

import base64
import copy
import random
from dataclasses import dataclass, field
from typing import Any

from helpers.backends.kubeapi import ready_pods

HEAD_PORTS = {"dashboard": 8265, "gcs-server": 6379, "client": 10001, "metrics": 8080, "serve": 8000}
SERVE_PORTS = {"serve": 8000}
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet (no vowels)


class FakeClock:
    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Cluster:
    name: str
    service: str
    config: dict[str, Any]
    apps: list[str]
    created: float
    ready_at: float | None  # when its apps are RUNNING (None: waiting for a new head pod)
    delete_at: float | None = None
    uid: str = ""
    ft: bool = False  # GCS fault tolerance with Redis: the finalizer ray.io/gcs-ft-redis-cleanup-finalizer
    deleting_since: float | None = None  # deletionTimestamp (a finalizer holds it)
    cleanup_started: float | None = None  # the Redis cleanup Job was created
    deployed_at: float = 0.0  # an in-place serveConfigV2 change: its applications DEPLOYING until then


@dataclass
class Pod:
    name: str
    cluster: str
    node_type: str
    group: str
    ip: str
    ready_at: float | None
    deleted_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Service:
    name: str
    generation: int
    spec: dict[str, Any]
    active: str | None = None
    pending: str | None = None
    observed: int = 0
    serve_svc: bool = False  # <name>-serve-svc exists once the apps of a cluster were ready
    deleting_since: float | None = None  # deletionTimestamp: ray.io/rayservice-finalizer waits for the RayClusters


class KubeRayTimeline:
    def __init__(
        self,
        namespace: str = "rayservice-tutorial",
        cluster_ready_seconds: float = 30.0,
        head_restart_seconds: float = 5.0,
        termination_seconds: float = 2.0,
        deletion_delay_seconds: float = 60.0,
        seconds_per_read: float = 0.0,
        seed: int = 0,
        redis_ready_seconds: float = 3.0,
        gcs_recover_seconds: float = 8.0,
        cleanup_seconds: float = 5.0,
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

    def _reconcile(self) -> None:
        now = self.clock.now
        for name, pod in list(self.pods.items()):
            if pod.deleted_at is not None and now >= pod.deleted_at + self.termination_seconds:
                del self.pods[name]
        for when, cluster, node_type, group in list(self._restarts):
            if now >= when and cluster in self.clusters:
                self._restarts.remove((when, cluster, node_type, group))
                c = self.clusters[cluster]
                if node_type == "head" and c.ft:  # the GCS reads its tables back from Redis: no new PUT
                    pod = self._new_pod(c, "head", "headgroup", now + self.gcs_recover_seconds)
                elif node_type == "head":
                    c.ready_at = now + self.cluster_ready_seconds  # the operator PUTs the Serve config again
                    pod = self._new_pod(c, "head", "headgroup", c.ready_at)
                else:
                    pod = self._new_pod(c, "worker", group, max(now + 1.0, c.ready_at or now))
                self._log(f"pod {pod.name} created for RayCluster {cluster}")
        for svc in self.services.values():
            svc.observed = svc.generation
            pending = self.clusters.get(svc.pending) if svc.pending else None
            if pending and self._apps_running(pending):
                old = svc.active
                svc.active, svc.pending, svc.serve_svc = pending.name, None, True
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

    def _finalize(self, cluster: Cluster) -> None:
        """ray.io/gcs-ft-redis-cleanup-finalizer, as raycluster_controller.go v1.7.0 handles it."""
        now = self.clock.now
        if now - cluster.deleting_since >= 300:  # RAYCLUSTER_GCS_FT_DELETION_TIMEOUT_DEFAULT
            missing = self.cleanup_job_missing(cluster)
            why = f" ({', '.join(missing)} missing)" if missing else ""
            self._job_done(cluster, f"{cluster.name}-redis-cleanup", f"stuck: finalizer force-removed after 300 s{why}")
            return
        if any(p.cluster == cluster.name for p in self.pods.values()):
            return  # the head pod must be gone first (its GCS could still write)
        job = f"{cluster.name}-redis-cleanup"
        if cluster.cleanup_started is None:
            cluster.cleanup_started = now
            self._log(f"created the Redis cleanup Job {job}")
            return
        running = now - cluster.cleanup_started
        missing = self.cleanup_job_missing(cluster)
        if missing:  # the Job's pod cannot start: CreateContainerConfigError / FailedMount
            if running >= 300:  # activeDeadlineSeconds
                self._job_done(cluster, job, f"failed: its pod never started ({', '.join(missing)} missing)")
        elif self._redis_up():
            if running >= self.cleanup_seconds:
                self.redis_keys.discard(cluster.uid)
                self._job_done(cluster, job, "complete")
        elif running >= 60:  # RAY_redis_db_connect_retries=120 x 500 ms
            self._job_done(cluster, job, "failed: Redis unreachable")

    def _job_done(self, cluster: Cluster, job: str, outcome: str) -> None:
        self.jobs.append((self.clock.now, job, outcome))
        self._log(f"Redis cleanup Job {job} {outcome}; finalizer removed")
        self._gone(cluster.name)

    def _gone(self, name: str) -> None:
        self.clusters.pop(name, None)
        self.secrets.pop(name, None)
        self._log(f"RayCluster {name} gone")

    def cleanup_job_missing(self, cluster: Cluster) -> list[str]:
        """What the Redis cleanup Job's pod (the head's template) needs and does not find: the Secrets of its
        env (KubeRay's REDIS_PASSWORD included) and the ConfigMaps of its volumes."""
        template = ((cluster.config.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}
        needed = [
            ("Secret", env["valueFrom"]["secretKeyRef"]["name"])
            for env in self.pod_env(cluster, "head")
            if (env.get("valueFrom") or {}).get("secretKeyRef")
        ]
        needed += [("ConfigMap", v["configMap"]["name"]) for v in template.get("volumes") or [] if v.get("configMap")]
        return [f"{kind} {name}" for kind, name in needed if (kind, name) not in self.objects]

    def _redis_up(self) -> bool:
        """The Redis of manifests/redis/: its Deployment's pod started with its Secret, and ready."""
        deployment, secret = ("Deployment", "redis"), ("Secret", "redis-password")
        if deployment not in self.objects or secret not in self.objects or ("Service", "redis") not in self.objects:
            return False
        started = max(self.created_at[deployment], self.created_at[secret])
        return self.clock.now >= started + self.redis_ready_seconds

    def pod_env(self, cluster: Cluster, node_type: str) -> list[dict[str, Any]]:
        """The env KubeRay v1.7.0 adds for GCS fault tolerance (configureGCSFaultTolerance/configureRedisFT)."""
        options = cluster.config.get("gcsFaultToleranceOptions")
        if not cluster.ft or not isinstance(options, dict):
            return []
        if node_type == "worker":
            return [{"name": "RAY_gcs_rpc_server_reconnect_timeout_s", "value": "600"}]
        env = [
            {"name": "RAY_external_storage_namespace", "value": options.get("externalStorageNamespace") or cluster.uid},
            {"name": "RAY_REDIS_ADDRESS", "value": options.get("redisAddress", "")},
        ]
        if options.get("redisPassword") is not None:
            env.append({"name": "REDIS_PASSWORD", **copy.deepcopy(options["redisPassword"])})
        return env

    def ray_start_params(self, cluster: Cluster) -> dict[str, str]:
        params = dict((cluster.config.get("headGroupSpec") or {}).get("rayStartParams") or {})
        if cluster.ft and (cluster.config.get("gcsFaultToleranceOptions") or {}).get("redisPassword") is not None:
            params["redis-password"] = "$REDIS_PASSWORD"
        return params

    # -- the operator's objects ----------------------------------------------------------------

    def _suffix(self) -> str:
        return "".join(self._rng.choice(ALPHABET) for _ in range(5))

    def _create_cluster(self, svc: Service) -> Cluster:
        name = f"{svc.name}-{next(self._cluster_letters) * 5}"
        config = copy.deepcopy(svc.spec.get("rayClusterConfig") or {})
        apps = _app_names(svc.spec)
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
        ready = pod.deleted_at is None and pod.ready_at is not None and self.clock.now >= pod.ready_at
        cluster = self.clusters.get(pod.cluster)
        if ready and pod.node_type == "head" and cluster is not None and cluster.ft:
            return self._redis_up()  # the GCS needs Redis
        return ready

    def _apps_running(self, cluster: Cluster) -> bool:
        heads = [p for p in self.pods.values() if p.cluster == cluster.name and p.node_type == "head"]
        return (
            cluster.ready_at is not None
            and self.clock.now >= cluster.ready_at
            and any(self._pod_ready(p) for p in heads)
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

    def create_secret(self, namespace: str, name: str, data: dict[str, str], labels: dict[str, str]) -> bool:
        self.calls.append(("create_secret", namespace, name, dict(data), dict(labels)))
        if ("Secret", name) in self.objects:
            return False
        self.objects[("Secret", name)] = {
            "kind": "Secret",
            "metadata": {"name": name, "labels": labels},
            "stringData": data,
        }
        self.created_at[("Secret", name)] = self.clock.now
        return True

    def deployment_status(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("deployment_status", namespace, name))
        if ("Deployment", name) not in self.objects or namespace != self.namespace:
            return None
        ready = 1 if name == "redis" and self._redis_up() else 0
        return {
            "generation": 1,
            "observed_generation": 1,
            "replicas": 1,
            "ready_replicas": ready,
            "updated_replicas": 1,
        }

    def _delete_object(self, kind: str, name: str) -> None:
        if self.objects.pop((kind, name), None) is not None:
            self.created_at.pop((kind, name), None)
            self._log(f"{kind} {name} deleted")
        if (kind, name) == ("Deployment", "redis"):
            self.redis_keys.clear()  # its data was in the pod's emptyDir

    def delete_deployment(self, namespace: str, name: str) -> None:
        self.calls.append(("delete_deployment", namespace, name))
        self._delete_object("Deployment", name)

    def delete_kube_service(self, namespace: str, name: str) -> None:
        self.calls.append(("delete_kube_service", namespace, name))
        self._delete_object("Service", name)

    def delete_secret(self, namespace: str, name: str) -> None:
        self.calls.append(("delete_secret", namespace, name))
        self._delete_object("Secret", name)

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
        if _without_replicas(spec.get("rayClusterConfig")) != _without_replicas(old_spec.get("rayClusterConfig")):
            if svc.pending:  # KubeRay replaces a pending cluster whose config is outdated
                self._delete_cluster(svc.pending)
            svc.pending = self._create_cluster(svc).name
            self._log(f"rayClusterConfig changed: pending RayCluster {svc.pending}")
        elif current is not None:  # serveConfigV2 only: one more PUT on the same cluster, whose proxies keep serving
            current.apps = _app_names(spec)
            current.deployed_at = self.clock.now + min(5.0, self.cluster_ready_seconds)

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
        if not any(c.service == name for c in self.clusters.values()):
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
        pod.deleted_at = self.clock.now
        self._log(f"pod {name} deleted")
        if pod.node_type == "head":
            if not self.clusters[pod.cluster].ft:
                self.clusters[pod.cluster].ready_at = None  # no head: no Serve until the new head redeploys it
            self._restarts.append((self.clock.now + self.head_restart_seconds, pod.cluster, "head", pod.group))
        else:
            self._restarts.append((self.clock.now + 1.0, pod.cluster, "worker", pod.group))

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

    # -- Services and their EndpointSlices (what a forward that follows the Service reads) ---------

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("read_service", namespace, name))
        found = self._service(name) if namespace == self.namespace else None
        if found is None:
            return None
        ports, selector = found
        return {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": selector,
                "ports": [{"name": n, "port": p, "target_port": p, "protocol": "TCP"} for n, p in ports.items()],
            },
        }

    def pods_behind(self, namespace: str, service: str) -> list[str]:
        return ready_pods(self.list_endpoint_slices(namespace, service))

    def list_endpoint_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """The Service's EndpointSlices (label kubernetes.io/service-name=<service>): every pod its selector
        matches, ready or not (terminating pods: ready False, terminating True)."""
        self.calls.append(("list_endpoint_slices", namespace, service))
        found = self._service(service) if namespace == self.namespace else None
        if found is None:
            return []
        ports, selector = found
        endpoints = [
            {
                "addresses": [p.ip],
                "conditions": {
                    "ready": self._pod_ready(p),
                    "serving": self._pod_ready(p),
                    "terminating": p.deleted_at is not None,
                },
                "target_ref": {"kind": "Pod", "name": p.name, "namespace": namespace},
            }
            for p in sorted(self.pods.values(), key=lambda p: p.name)
            if all(self._labels(p).get(k) == v for k, v in selector.items())
        ]
        return [
            {
                "metadata": {"name": f"{service}-x7k2p", "labels": {"kubernetes.io/service-name": service}},
                "address_type": "IPv4",
                "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports.items()],
                "endpoints": endpoints,
            }
        ]

    def _service(self, name: str) -> tuple[dict[str, int], dict[str, str]] | None:
        for svc in self.services.values():
            if not svc.active:
                continue  # KubeRay creates the Services once a cluster is promoted
            if name == f"{svc.name}-head-svc":
                return HEAD_PORTS, {"ray.io/cluster": svc.active, "ray.io/node-type": "head"}
            if name == f"{svc.name}-serve-svc" and svc.serve_svc:
                return SERVE_PORTS, {"ray.io/cluster": svc.active, "ray.io/serve": "true"}
        return None

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

    def _labels(self, pod: Pod) -> dict[str, str]:
        labels = dict(pod.labels)
        cluster = self.clusters.get(pod.cluster)
        if cluster is not None and self._pod_ready(pod) and self._apps_running(cluster):
            labels["ray.io/serve"] = "true"  # KubeRay labels pods whose proxy can serve
        elif (
            cluster is not None
            and cluster.ft
            and pod.node_type == "worker"
            and self._pod_ready(pod)
            and cluster.ready_at is not None
            and self.clock.now >= cluster.ready_at
        ):
            labels["ray.io/serve"] = "true"  # with GCS FT the workers' proxies and replicas outlive the head
        return labels

    def pod_annotations(self, pod: Pod) -> dict[str, str]:
        cluster = self.clusters.get(pod.cluster)
        if pod.node_type != "head" or cluster is None:
            return {}
        annotations = {"ray.io/ft-enabled": str(cluster.ft).lower()}
        if cluster.ft:
            annotations["ray.io/external-storage-namespace"] = cluster.uid
        return annotations

    def _pod_dict(self, pod: Pod) -> dict[str, Any]:
        phase = "Running" if pod.ready_at is not None else "Pending"
        ready = "True" if self._pod_ready(pod) else "False"
        return {
            "metadata": {
                "name": pod.name,
                "namespace": self.namespace,
                "labels": self._labels(pod),
                "annotations": self.pod_annotations(pod),
                "deletion_timestamp": pod.deleted_at,
            },
            "status": {
                "phase": phase,
                "pod_ip": pod.ip,
                "container_statuses": [],
                "conditions": [{"type": "Ready", "status": ready}],
            },
        }

    def _app_statuses(self, cluster: Cluster | None) -> dict[str, Any]:
        if cluster is None:
            return {}
        if cluster.ft and not self._apps_running(cluster):
            return {}  # KubeRay cannot reach the dashboard: no application status until the head is back
        running = self._apps_running(cluster) and self.clock.now >= cluster.deployed_at
        svc = self.services.get(cluster.service)
        deployments = _deployment_names(svc.spec) if svc else {}
        return {
            app: {
                "status": "RUNNING" if running else "DEPLOYING",
                "message": "",
                # KubeRay copies Serve's per-deployment status (HEALTHY once the app runs).
                "serveDeploymentStatuses": {
                    d: {"status": "HEALTHY" if running else "UPDATING", "message": ""} for d in deployments.get(app, [])
                },
            }
            for app in cluster.apps
        }

    def _status(self, svc: Service) -> dict[str, Any]:
        active = self.clusters.get(svc.active) if svc.active else None
        pending = self.clusters.get(svc.pending) if svc.pending else None
        endpoints = sum(
            1 for p in self.pods.values() if active and p.cluster == active.name and "ray.io/serve" in self._labels(p)
        )
        stamp = "2026-11-29T07:00:00Z"
        if active is None:
            ready = ("False", "Initializing")
        else:
            ready = ("True", "NonZeroServeEndpoints") if endpoints else ("False", "ZeroServeEndpoints")
        if active and pending:
            upgrade = ("True", "BothActivePendingClustersExist")
        elif pending:
            upgrade = ("Unknown", "NoActiveCluster")
        else:
            upgrade = ("False", "NoPendingCluster")
        return {
            "observedGeneration": svc.observed,
            "numServeEndpoints": endpoints,
            "conditions": [
                {"type": "Ready", "status": ready[0], "reason": ready[1], "message": "", "lastTransitionTime": stamp},
                {
                    "type": "UpgradeInProgress",
                    "status": upgrade[0],
                    "reason": upgrade[1],
                    "message": "",
                    "lastTransitionTime": stamp,
                },
            ],
            "activeServiceStatus": (
                {"rayClusterName": active.name, "applicationStatuses": self._app_statuses(active)} if active else {}
            ),
            "pendingServiceStatus": (
                {"rayClusterName": pending.name, "applicationStatuses": self._app_statuses(pending)} if pending else {}
            ),
        }


def _app_names(spec: dict[str, Any]) -> list[str]:
    import yaml

    config = yaml.safe_load(spec.get("serveConfigV2") or "") or {}
    return sorted(app["name"] for app in config.get("applications") or [])


def _deployment_names(spec: dict[str, Any]) -> dict[str, list[str]]:
    import yaml

    config = yaml.safe_load(spec.get("serveConfigV2") or "") or {}
    return {app["name"]: [d["name"] for d in app.get("deployments") or []] for app in config.get("applications") or []}


def _without_replicas(config: dict[str, Any] | None) -> dict[str, Any]:
    """rayClusterConfig without what KubeRay changes in place (replica counts)."""
    config = copy.deepcopy(config or {})
    for group in config.get("workerGroupSpecs") or []:
        for key in ("replicas", "minReplicas", "maxReplicas"):
            group.pop(key, None)
    return config
