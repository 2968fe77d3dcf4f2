"""GCS fault tolerance in the fake (tests/kuberay_fake/timeline.py): the env KubeRay gives the pods, the
namespace's Redis as its Deployment and Secret, and ray.io/gcs-ft-redis-cleanup-finalizer's cleanup Job."""

from __future__ import annotations

import copy
from typing import Any

from .objects import Cluster


class GcsFaultTolerance:
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
