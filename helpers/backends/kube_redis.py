"""GCS fault tolerance on Kubernetes: the namespace's Redis (manifests/redis/), which the backend makes for a
RayService whose ``gcsFaultToleranceOptions`` point at ``redis:6379``, with a Secret holding a random password."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from helpers import config
from helpers.backends.kubeapi import newest_first
from helpers.errors import BackendError
from helpers.progress import wait_for

if TYPE_CHECKING:
    from helpers.manifests import RayServiceManifest

# GCS fault tolerance (manifests/ray-service-ha.yaml): the namespace's Redis from manifests/redis/.
REDIS_DIR = config.MANIFESTS_DIR / "redis"
REDIS_NAME = "redis"  # its Deployment and Service: gcsFaultToleranceOptions.redisAddress "redis:6379"
REDIS_PORT = 6379
REDIS_SECRET = "redis-password"  # made by the backend with a random password (see manifests/redis/redis.yaml)
REDIS_SECRET_KEY = "password"
REDIS_LABELS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "rayservice-tutorial"}


def gcs_fault_tolerance(manifest: RayServiceManifest) -> dict[str, Any] | None:
    """``spec.rayClusterConfig.gcsFaultToleranceOptions`` of the manifest, or None (no GCS fault tolerance)."""
    options = manifest.cluster_config.get("gcsFaultToleranceOptions")
    return options if isinstance(options, dict) else None


def is_tutorial_redis(options: dict[str, Any], namespace: str) -> bool:
    """Does ``gcsFaultToleranceOptions`` use Redis at this namespace's Service ``redis`` (manifests/redis/)?
    KubeRay passes redisAddress on as RAY_REDIS_ADDRESS: host:port, optionally redis:// or rediss://."""
    if (options.get("backend") or "redis") != "redis":
        return False
    address = str(options.get("redisAddress") or "").split(",")[0].strip()
    address = address.split("://", 1)[-1].rsplit("@", 1)[-1]
    host, _, port = address.rpartition(":") if ":" in address else (address, "", str(REDIS_PORT))
    names = {REDIS_NAME, f"{REDIS_NAME}.{namespace}", f"{REDIS_NAME}.{namespace}.svc"}
    return host in names | {f"{REDIS_NAME}.{namespace}.svc.cluster.local"} and port == str(REDIS_PORT)


def redis_objects(namespace: str) -> list[dict[str, Any]]:
    """The objects of manifests/redis/ (Redis's Deployment and Service), placed in ``namespace``."""
    import yaml

    objects = []
    for path in sorted(REDIS_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["metadata"]["namespace"] = namespace
                objects.append(doc)
    return objects


def redis_image() -> str:
    """The Redis image manifests/redis/ pins (the kind backend loads it with the others)."""
    (deployment,) = [o for o in redis_objects("default") if o["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


class NamespaceRedis:
    """The Redis of one namespace, reached through the backend's Kubernetes client."""

    def __init__(self, backend):
        self.backend = backend

    @property
    def kube(self):
        return self.backend.kube

    @property
    def namespace(self) -> str:
        return self.backend.namespace

    def needs(self, manifest: RayServiceManifest) -> bool:
        """Does the manifest's gcsFaultToleranceOptions use manifests/redis/? Another Redis (an address that
        is not this namespace's Service `redis`) is the user's own: it is left to them. Refuses, before
        anything changes, a password reference the Redis of manifests/redis/ cannot satisfy."""
        options = gcs_fault_tolerance(manifest)
        if options is None or not is_tutorial_redis(options, self.namespace):
            return False
        ref = ((options.get("redisPassword") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if (ref.get("name"), ref.get("key")) != (REDIS_SECRET, REDIS_SECRET_KEY):
            raise BackendError(
                f"gcsFaultToleranceOptions.redisAddress is the tutorial's Redis ({REDIS_NAME}:{REDIS_PORT}), so "
                f"its password is the Secret the backend creates: write redisPassword: {{valueFrom: {{secretKeyRef: "
                f"{{name: {REDIS_SECRET}, key: {REDIS_SECRET_KEY}}}}}}} (found {options.get('redisPassword')!r})."
            )
        return True

    def ensure(self, timeout: float = 180) -> float:
        """The Secret (a new random password if there is none), Redis's Deployment and Service, then a wait
        until Redis is ready. The password is sent to the API server only: never printed, never saved."""
        created = self.kube.create_secret(
            self.namespace, REDIS_SECRET, {REDIS_SECRET_KEY: secrets.token_hex(24)}, dict(REDIS_LABELS)
        )
        for obj in redis_objects(self.namespace):
            self.kube.apply(obj)
        secret = f"Secret {REDIS_SECRET!r} " + (
            "created with a random password" if created else "already there (kept: Redis uses it)"
        )
        print(f"GCS fault tolerance: {secret}; Redis (manifests/redis/) applied in {self.namespace!r}.")
        return wait_for(
            f"Redis {self.namespace}/{REDIS_NAME} to be ready",
            self.ready,
            timeout,
            interval=2.0,
            on_timeout=self.diagnose,
        )

    def ready(self) -> tuple[bool, str]:
        status = self.kube.deployment_status(self.namespace, REDIS_NAME)
        if status is None:
            return False, "no Deployment yet"
        wanted = status["replicas"]
        done = (
            status["observed_generation"] >= status["generation"]
            and status["updated_replicas"] >= wanted
            and status["ready_replicas"] >= wanted
        )
        return done, f"{status['ready_replicas']}/{wanted} ready"

    def diagnose(self) -> str:
        lines = []
        for pod in self.kube.list_pods(self.namespace, f"app.kubernetes.io/name={REDIS_NAME}"):
            status = pod.get("status") or {}
            waiting = [((cs.get("state") or {}).get("waiting") or {}) for cs in status.get("container_statuses") or []]
            reasons = [f"{w.get('reason')}: {w.get('message') or ''}".rstrip(": ") for w in waiting if w.get("reason")]
            lines.append(f"pod {pod['metadata']['name']}: {status.get('phase')} {'; '.join(reasons)}".rstrip())
        for event in newest_first(self.kube.list_events(self.namespace))[:10]:
            involved = event.get("involved_object") or {}
            if event.get("type") == "Warning" and str(involved.get("name", "")).startswith(REDIS_NAME):
                lines.append(
                    f"event {involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: "
                    f"{event.get('message')}"
                )
        return "Redis:\n  " + ("\n  ".join(lines) or "(no Redis pod yet)")

    def delete(self) -> None:
        """Delete Redis's Deployment and Service and the Secret (after the RayService is gone: KubeRay's
        cleanup Job of a RayCluster with GCS FT needs all three)."""
        self.kube.delete_deployment(self.namespace, REDIS_NAME)
        self.kube.delete_kube_service(self.namespace, REDIS_NAME)
        self.kube.delete_secret(self.namespace, REDIS_SECRET)
