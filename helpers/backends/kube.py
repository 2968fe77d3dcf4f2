"""The Kubernetes half of the kind backend, usable on its own against any cluster (BACKEND="kubernetes").

The KubeRay operator does the work here: this class applies the RayService (server-side apply),
reads its status from the custom resource, ships the application code as a ConfigMap, and
reaches the cluster only through ``kubectl port-forward --address 127.0.0.1``. Everything lives in
one namespace, so thirty learners can share a cluster without touching each other's RayServices.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import time
from pathlib import Path
from typing import Any

from helpers import config, procs, transcripts
from helpers import status as status_mod
from helpers.backends import kube_monitoring
from helpers.backends.base import Backend
from helpers.backends.commands import Commands
from helpers.backends.kube_faults import KubernetesFaults
from helpers.backends.kube_forwards import PortForwards
from helpers.backends.kube_redis import REDIS_NAME, REDIS_SECRET, NamespaceRedis, gcs_fault_tolerance
from helpers.backends.kube_waits import KubernetesWaits
from helpers.errors import BackendError, NotRunningError
from helpers.kubectl import Command, Kubectl, head_service, ray_pod_selector, serve_service
from helpers.manifests import RayServiceManifest, as_manifest, lint_before_apply
from helpers.progress import wait_for
from helpers.serve_api import ServeAPIError

APP_CODE_CONFIGMAP = "rayservice-tutorial-apps"  # mounted at /home/ray/apps by every manifest
DEFAULT_NAMESPACE = config.DEFAULT_NAMESPACE

# How long down() waits for a RayService with GCS FT: KubeRay force-removes its Redis cleanup finalizer after
# 300 s (RAYCLUSTER_GCS_FT_DELETION_TIMEOUT_DEFAULT), the pods' termination comes before that.
DELETE_TIMEOUT = 360.0


class KubernetesBackend(KubernetesWaits, KubernetesFaults, Backend):
    name = "kubernetes"
    service_moves = True  # KubeRay repoints its Services (a new head pod, a promoted RayCluster)
    # This machine is on the cluster's pod network (the host backend): the forwards connect to the Services as a
    # pod does (kube-proxy's rules), not through the API server.
    pod_network = False

    def __init__(
        self,
        namespace: str = DEFAULT_NAMESPACE,
        context: str | None = None,
        state_dir: Path | None = None,
        ports: config.Ports | None = None,
        commands: Commands | None = None,
        kube=None,
    ):
        self.namespace = namespace
        self.context = context
        self.commands = commands or Commands()
        self._kube = kube  # KubeAPI, made on first use (tests give a fake)
        self._token: tuple[str, str] | None = None  # (Secret name, token) once read
        # Every kubectl command shown or run comes from the backend's Kubectl.
        super().__init__(Kubectl(namespace, context), state_dir, ports)
        digest = hashlib.sha1(f"{self.state_dir}:{self.name}:{namespace}".encode()).hexdigest()[:8]
        self.marker = f"{self.name}-{digest}"
        self.state_file = self.state_dir / f"{self.name}-{namespace}.json"
        self.redis = NamespaceRedis(self)  # GCS fault tolerance's Redis in this namespace
        self.forwards = PortForwards(self)  # Ray's dashboard, Serve and the metrics on 127.0.0.1

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def kube(self):
        """The one Kubernetes client of this backend (``KubeAPI``): every object read and written goes through it."""
        if self._kube is None:
            from helpers.backends.kubeapi import KubeAPI

            self._kube = KubeAPI(self.context)
        return self._kube

    def reach_serve(self) -> None:
        self.ensure_port_forwards()

    def ensure_port_forwards(self) -> None:
        """Start (or restart) the port-forwards to the head and serve Services, on 127.0.0.1 only."""
        self.forwards.ensure()

    def stop_port_forwards(self) -> int:
        return self.forwards.stop()

    def on_kubernetes(self, command: Command, check: bool = False) -> str:
        """Run ``command`` (from ``self.kubectl``) for real: print `$ cmd`, then its real output. With
        ``check`` (a fault's step) a failing command raises; a lesson's look-around cell just shows it."""
        if command.long_running:
            raise BackendError(f"`{command.text}` runs until stopped: the backend starts it itself.")
        print(f"$ {command.text}")
        result = self.commands.run(list(command.args), check=check, timeout=120)
        output = (result.stdout + result.stderr).rstrip()
        if output:
            print(output)
        transcripts.record(command.args, output)
        return output

    # -- up ----------------------------------------------------------------------------------

    def preflight(self) -> list:
        from helpers import preflight

        return preflight.kubernetes_checks(self.commands, self.context)

    def _require_preflight(self) -> None:
        from helpers import preflight

        checks = self.preflight()
        if not all(c.ok for c in checks):
            raise BackendError(
                f"The {self.name} backend cannot start on this machine:\n"
                + preflight.report([c for c in checks if not c.ok])
            )

    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = 600) -> dict[str, Any]:
        """Check the operator is there, then prepare the namespace and the application code.

        ``manifest`` is accepted for the same call as the other backends; the Ray cluster itself is
        created by KubeRay when the RayService is applied.
        """
        as_manifest(manifest)  # validate early: a bad manifest should fail before anything changes
        self._require_preflight()
        # Only namespaced rights are needed from here on (manifests/workshop/ grants them with a Role).
        return self._prepare_namespace()

    def _prepare_namespace(self) -> dict[str, Any]:
        """The operator's CRD, the namespace, the rights in it, then the application code.

        Works with a Role in an existing namespace (a workshop's shared cluster, manifests/workshop/): the
        CRD is found through API discovery when reading it is refused, an existing Namespace is left alone,
        and every right the lessons need is asked for up front, so a missing one is named now (verb,
        resource, namespace) rather than halfway through lesson 04."""
        if not self.kube.crd_installed():
            raise BackendError(
                "The KubeRay operator is not installed in this cluster (no CRD rayservices.ray.io). "
                f"Ask the cluster's admin, or install it: helm install kuberay-operator kuberay/kuberay-operator "
                f"--version {config.KUBERAY_VERSION}"
            )
        self.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})
        missing = self.kube.missing_rights(self.namespace)
        if missing:
            from helpers.backends.kubeapi import WORKSHOP_HINT, learner_rights, missing_right

            if len(missing) >= sum(len(verbs) for verbs in learner_rights().values()):
                raise BackendError(
                    f"Your account has none of the rights the lessons need in namespace {self.namespace!r}: is "
                    f"NAMESPACE the one the instructor gave you? Otherwise {WORKSHOP_HINT}."
                )
            raise BackendError(
                f"{len(missing)} right(s) missing in namespace {self.namespace!r}:\n"
                + "\n".join(f"- {missing_right(verb, resource, self.namespace)}" for verb, resource in missing)
            )
        self.kube.apply(self.app_code_configmap())
        print(f"Namespace {self.namespace!r} ready, application code in ConfigMap {APP_CODE_CONFIGMAP!r}.")
        return self.describe()

    def app_code_configmap(self) -> dict[str, Any]:
        """The application sources of manifests/apps/, as the ConfigMap every manifest mounts."""
        files = {p.name: p.read_text() for p in sorted(config.APPS_DIR.glob("*.py"))}
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": APP_CODE_CONFIGMAP,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/part-of": "rayservice-tutorial"},
            },
            "data": files,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "namespace": self.namespace,
            "context": self.context,
            "service": self._state().get("service"),
            "urls": self.urls(),
        }

    # -- apply / status / wait -----------------------------------------------------------------

    def apply(self, manifest: RayServiceManifest | str | Path) -> None:
        """Server-side apply of the RayService into this backend's namespace.

        With GCS fault tolerance (``gcsFaultToleranceOptions`` pointing at ``redis:6379``), the namespace's
        Redis comes first: its Secret, manifests/redis/, and a wait until Redis answers, so the head KubeRay
        starts finds it (a head that cannot reach Redis at start exits, and KubeRay restarts it)."""
        manifest = lint_before_apply(manifest)
        redis = self.redis.needs(manifest)
        if redis:
            self.ensure_redis()
        obj = copy.deepcopy(manifest.raw)
        obj["metadata"]["namespace"] = self.namespace
        self.kube.apply(obj)
        state = self._state()
        state["service"] = manifest.name
        # Kept once set: an old RayCluster with GCS FT still needs Redis for KubeRay's cleanup Job when it goes.
        state["redis"] = bool(state.get("redis")) or redis
        state["gcs_ft"] = gcs_fault_tolerance(manifest) is not None
        state["apps"] = sorted(app["name"] for app in manifest.applications)
        options = manifest.cluster_config.get("authOptions") or {}
        state["auth"] = {"mode": manifest.auth_mode, "secretName": options.get("secretName")}
        self._save(state)
        print(f"Applied {manifest.source}: RayService {manifest.name!r} with applications {', '.join(state['apps'])}.")

    # -- GCS fault tolerance: the namespace's Redis (helpers/backends/kube_redis.py) ---------------------------

    def ensure_redis(self, timeout: float = 180) -> float:
        """The namespace's Redis and its Secret, then a wait until it is ready."""
        return self.redis.ensure(timeout)

    def delete_redis(self) -> None:
        """Delete Redis's Deployment and Service and the Secret (after the RayService is gone: KubeRay's
        cleanup Job of a RayCluster with GCS FT needs all three)."""
        self.redis.delete()
        state = self._state()
        if state.pop("redis", None) is not None:
            self._save(state)

    def _service_name(self) -> str:
        name = self._state().get("service")
        if not name:
            raise NotRunningError(
                "No RayService has been applied from this notebook yet: run notebook 02_deploy_rayservice, "
                "or backend.apply('manifests/ray-service.yaml')."
            )
        return name

    def _resource(self) -> dict[str, Any]:
        name = self._service_name()
        obj = self.kube.get_rayservice(self.namespace, name)
        if obj is None:
            raise NotRunningError(f"RayService {name!r} does not exist in namespace {self.namespace!r}.")
        return obj

    def status(self) -> dict[str, Any]:
        """``RayService.status`` from the custom resource, with replica counts from Serve's API."""
        return self._status_of(self._resource())

    def _status_of(self, obj: dict[str, Any]) -> dict[str, Any]:
        raw = obj.get("status") or {}
        details = None
        try:
            if self.forwards.dashboard_forwarded():
                details = self.serve.details()
        except ServeAPIError:
            details = None
        return status_mod.from_custom_resource(obj["metadata"]["name"], raw, details)

    def token(self) -> str | None:
        """Ray's token for the dashboard, from the Secret KubeRay made (authOptions: {mode: token}).

        KubeRay names the Secret after the RayCluster (or uses authOptions.secretName) and keeps the token
        under the key auth_token; it sets RAY_AUTH_MODE=token and RAY_AUTH_TOKEN from it in every Ray pod.
        """
        auth = self._state().get("auth") or {}
        if auth.get("mode") != "token":
            return None
        name = auth.get("secretName") or self.cluster_names()[0]
        if name and self._token and self._token[0] == name:
            return self._token[1]
        data = self.kube.read_secret(self.namespace, name) if name else None
        if not data or "auth_token" not in data:
            return None
        self._token = (name, base64.b64decode(data["auth_token"]).decode().strip())
        return self._token[1]

    def cluster_names(self) -> tuple[str | None, str | None]:
        """(active, pending) RayCluster names: both are set while KubeRay upgrades the cluster."""
        raw = self._resource().get("status") or {}
        return (
            (raw.get("activeServiceStatus") or {}).get("rayClusterName") or None,
            (raw.get("pendingServiceStatus") or {}).get("rayClusterName") or None,
        )

    # -- access --------------------------------------------------------------------------------

    def metrics_urls(self) -> list[str]:
        """The head's Prometheus endpoint through the port-forward (every pod's: install_monitoring)."""
        self.ensure_port_forwards()
        return [f"http://{config.LOOPBACK}:{self.ports.metrics}/metrics"]

    def our_processes(self) -> list:
        return procs.find_marked(self.marker)

    def listeners(self) -> list[tuple[str, int, int]]:
        return procs.listeners({p.pid for p in self.our_processes()})

    def nodes_table(self) -> str:
        """The Ray pods of the active cluster (they exist once a RayService is applied)."""
        from helpers.display import table

        name = self._state().get("service")
        active = self.cluster_names()[0] if name else None
        if not active:
            return "No Ray pods yet: KubeRay creates them when the RayService is applied (lesson 02)."
        rows = []
        for pod in self.kube.list_pods(self.namespace, ray_pod_selector(active)):
            labels = pod["metadata"].get("labels") or {}  # to_dict() of the client: None when absent
            rows.append(
                (pod["metadata"]["name"], labels.get("ray.io/group", "?"), (pod.get("status") or {}).get("phase"))
            )
        return table(("pod", "group", "phase"), sorted(rows))

    # -- faults ----------------------------------------------------------------------------------

    def ray_pods(self, node_type: str) -> list[dict[str, Any]]:
        active, _ = self.cluster_names()
        if not active:
            raise NotRunningError("The RayService has no active cluster yet: wait_ready() first.")
        return self.kube.list_pods(self.namespace, ray_pod_selector(active, node_type))

    def replace_cluster(
        self, manifest: RayServiceManifest | str | Path, timeout: float = 900, wait_old: bool = True
    ) -> None:
        """Apply ``manifest`` whose ``rayClusterConfig`` differs from the running one (such as one that adds
        ``gcsFaultToleranceOptions``): KubeRay builds a new RayCluster, waits until its applications run, then
        points the Services at it and deletes the old one. Returns when the new cluster is the active one and the
        old one's pods are gone, so what follows (a fault, a measurement) meets the new cluster alone. Wait for
        the apps with ``wait_ready()``. ``wait_old=False``: return once the new cluster is active (a lesson's
        last step, nothing measured next; KubeRay deletes the old one by itself after the delay)."""
        before, _ = self.cluster_names()
        self.apply(manifest)

        def promoted() -> tuple[bool, str]:
            active, pending = self.cluster_names()
            return bool(active) and active != before and pending is None, f"active {active}, pending {pending}"

        wait_for("KubeRay to build the new RayCluster and switch to it", promoted, timeout, interval=2.0)
        self.on_kubernetes(self.kubectl.get_rayclusters(), check=True)
        if before and wait_old:
            self.wait_cluster_deleted(before)
        elif before:
            print(f"KubeRay deletes the old RayCluster {before} by itself after rayClusterDeletionDelaySeconds.")

    def wait_cluster_deleted(self, name: str, timeout: float = 300) -> float:
        """Until the pods of RayCluster ``name`` are gone: KubeRay deletes a replaced RayCluster after
        ``rayClusterDeletionDelaySeconds`` (60 s by default). A measurement waits for this first: on the host
        cluster, a head loss measured while the old pods went lost 31 requests more, all in the seconds they went."""
        print(f"KubeRay deletes the old RayCluster {name} after rayClusterDeletionDelaySeconds (60 s by default).")
        return self._wait_pods_gone(name, timeout)

    def _wait_pods_gone(self, name: str, timeout: float) -> float:
        """Until no pod of RayCluster ``name`` is left. The RayCluster object goes first: its pods follow through
        Kubernetes' garbage collector, each once the kubelet has stopped its containers."""

        def gone() -> tuple[bool, str]:
            left = [p["metadata"]["name"] for p in self.kube.list_pods(self.namespace, f"ray.io/cluster={name}")]
            return not left, f"{len(left)} pod(s) of {name} left"

        return wait_for(f"RayCluster {name} to be deleted", gone, timeout, interval=2.0)

    def upgrade_cluster(self, manifest: RayServiceManifest | str | Path, revision: str) -> RayServiceManifest:
        """Apply ``manifest`` with ``TUTORIAL_CLUSTER_REVISION=revision`` in every Ray container: a
        ``rayClusterConfig`` change, so KubeRay performs its zero-downtime new-cluster upgrade.
        Watch it with ``cluster_names()`` (active and pending) and ``wait_ready()``."""
        from helpers.manifests import with_pod_env

        changed = with_pod_env(as_manifest(manifest), {"TUTORIAL_CLUSTER_REVISION": revision})
        self.apply(changed)
        # While KubeRay builds the new cluster, both RayClusters exist: show them (active and pending).
        try:
            wait_for("KubeRay to create the pending RayCluster", self._pending_shown, 60, interval=2.0)
        except TimeoutError:
            print("(no pending RayCluster within 60 s: this is what there is)")
        self.on_kubernetes(self.kubectl.get_rayclusters(), check=True)
        return changed

    def _pending_shown(self) -> tuple[bool, str]:
        active, pending = self.cluster_names()
        return pending is not None, f"active {active}, pending {pending or '(not yet)'}"

    # -- monitoring (lesson 06, optional) --------------------------------------------------------

    def install_monitoring(self) -> dict[str, str]:
        """kube-prometheus-stack, PodMonitors for every Ray pod, and Ray's Grafana dashboards; the local URLs of
        Prometheus and Grafana (port-forwards on 127.0.0.1)."""
        return kube_monitoring.install(self)

    # -- down ----------------------------------------------------------------------------------

    def delete_service(self, timeout: float = 300) -> None:
        """Delete the RayService and wait until it and its pods are gone, so an apply right after creates a new
        one instead of editing one being deleted, and nothing answers on the serve Service any more. KubeRay
        v1.7.0's finalizer (ray.io/rayservice-finalizer) holds the RayService until its RayCluster *objects* are
        deleted (v1.6.1, the host backend's, has none: the RayService goes at once); the pods go afterwards
        through Kubernetes' garbage collector (on the host cluster a request right after the RayService was gone
        still got 200), so they are waited for too.

        With GCS fault tolerance, each RayCluster has KubeRay's finalizer ray.io/gcs-ft-redis-cleanup-finalizer:
        once its head pod is gone KubeRay runs a Job (<cluster>-redis-cleanup) that deletes the cluster's keys
        from Redis, with the password from the Secret and the head's volumes (the app-code ConfigMap). So Redis,
        its Secret and the ConfigMap stay until the RayService is gone; Redis and its Secret go after it."""
        name = self._service_name()
        try:
            clusters = [c for c in self.cluster_names() if c]
        except NotRunningError:
            clusters = []
        self.kube.delete_rayservice(self.namespace, name)
        started = time.monotonic()
        self._wait_deleted(name, timeout)
        for cluster in clusters:  # KubeRay's finalizer waits for the RayCluster objects, not for their pods
            self._wait_pods_gone(cluster, max(timeout - (time.monotonic() - started), 10.0))
            # With GCS FT the RayCluster stays until KubeRay's Redis cleanup Job has run (its finalizer): on v1.6.1
            # nothing holds the RayService meanwhile, and Redis must outlive the Job.
            self._wait_deleted(cluster, max(timeout - (time.monotonic() - started), 10.0), kind="RayCluster")
        if self._state().get("redis"):
            self.delete_redis()

    def _wait_deleted(self, name: str, timeout: float, kind: str = "RayService") -> float:
        """Until the RayService (or RayCluster) ``name`` is gone, naming the finalizers that hold it."""
        get = self.kube.get_rayservice if kind == "RayService" else self.kube.get_raycluster

        def gone() -> tuple[bool, str]:
            obj = get(self.namespace, name)
            if obj is None:
                return True, "deleted"
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            return False, "deleting" + (f" (finalizers: {', '.join(finalizers)})" if finalizers else "")

        return wait_for(f"{kind} {name} to be deleted", gone, timeout, interval=2.0)

    def leftovers(self) -> list[str]:
        """What of the tutorial is still here: our processes, the RayService if any, and the Redis of GCS
        fault tolerance (its Deployment, its Secret)."""
        found = [f"process {p.pid} ({p.name()})" for p in self.our_processes()]
        name = self._state().get("service")
        if name and self.kube.get_rayservice(self.namespace, name) is not None:
            found.append(f"RayService {self.namespace}/{name}")
        if self.kube.deployment_status(self.namespace, REDIS_NAME) is not None:
            found.append(f"Deployment {self.namespace}/{REDIS_NAME}")
        if self.kube.read_secret(self.namespace, REDIS_SECRET) is not None:
            found.append(f"Secret {self.namespace}/{REDIS_SECRET}")
        return found

    def down(self, quiet: bool = False) -> int:
        """Stop the port-forwards and delete this namespace's RayService and ConfigMap, and Redis if the
        backend made it. With Redis, the RayService is waited for first (see ``delete_service``): deleting Redis,
        its Secret or the ConfigMap under KubeRay's Redis cleanup Job would hold the deletion up to 5 minutes
        (the Job's activeDeadlineSeconds, then KubeRay force-removes its finalizer) and leave the keys behind."""
        stopped = self.stop_port_forwards()
        state = self._state()
        name, redis = state.get("service"), bool(state.get("redis"))
        if name:
            self.kube.delete_rayservice(self.namespace, name)
            if redis:
                try:
                    self._wait_deleted(name, DELETE_TIMEOUT)
                except TimeoutError as exc:  # still deleted below: down leaves nothing of ours behind
                    print(f"{str(exc).splitlines()[0]} Deleting Redis anyway; KubeRay may have left its keys.")
            self.kube.delete_configmap(self.namespace, APP_CODE_CONFIGMAP)
        if redis:
            self.delete_redis()
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            what = f"deleted RayService {name!r} in {self.namespace!r}" if name else "no RayService to delete"
            what += f", then Redis and its Secret {REDIS_SECRET!r}" if redis else ""
            print(f"Stopped {stopped} port-forward process(es); {what}.")
        return stopped


__all__ = ["KubernetesBackend", "head_service", "ray_pod_selector", "serve_service"]
