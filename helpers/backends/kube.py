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
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from helpers import config, procs, statefile, transcripts
from helpers import status as status_mod
from helpers.backends import forward
from helpers.backends.base import BackendError, DeployFailedError, NotRunningError
from helpers.backends.commands import Commands
from helpers.kubectl import Command, Kubectl, head_service, ray_pod_selector, serve_service
from helpers.manifests import RayServiceManifest, as_manifest, lint_before_apply
from helpers.progress import wait_for
from helpers.serve_api import ServeAPI, ServeAPIError

APP_CODE_CONFIGMAP = "rayservice-tutorial-apps"  # mounted at /home/ray/apps by every manifest
DEFAULT_NAMESPACE = "rayservice-tutorial"

# GCS fault tolerance (manifests/ray-service-ha.yaml): the namespace's Redis from manifests/redis/.
REDIS_DIR = config.MANIFESTS_DIR / "redis"
REDIS_NAME = "redis"  # its Deployment and Service: gcsFaultToleranceOptions.redisAddress "redis:6379"
REDIS_PORT = 6379
REDIS_SECRET = "redis-password"  # made by the backend with a random password (see manifests/redis/redis.yaml)
REDIS_SECRET_KEY = "password"
REDIS_LABELS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "rayservice-tutorial"}
# How long down() waits for a RayService with GCS FT: KubeRay force-removes its Redis cleanup finalizer after
# 300 s (RAYCLUSTER_GCS_FT_DELETION_TIMEOUT_DEFAULT), the pods' termination comes before that.
DELETE_TIMEOUT = 360.0
HEAD_TIMEOUT = 300.0  # a new head pod: scheduling, the image, Ray's start (KubeRay's own estimate is ~120 s)


FAILED_CONFIRM_S = 5.0  # two of KubeRay's 2-s reconciles and more: how long a DEPLOY_FAILED must stay to count


class KubernetesBackend:
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
        api=None,
    ):
        self.namespace = namespace
        self.context = context
        self.state_dir = Path(state_dir or config.state_dir())
        self.ports = ports or config.Ports()
        self.commands = commands or Commands()
        self._api = api
        self.kubectl = Kubectl(namespace, context)  # every kubectl command shown or run comes from here
        self._token: tuple[str, str] | None = None  # (Secret name, token) once read
        digest = hashlib.sha1(f"{self.state_dir}:{self.name}:{namespace}".encode()).hexdigest()[:8]
        self.marker = f"{self.name}-{digest}"
        self.state_file = self.state_dir / f"{self.name}-{namespace}.json"
        self.log_dir = self.state_dir / "logs"
        self.serve_api = ServeAPI(self.urls()["dashboard"], token=self.token)

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def api(self):
        if self._api is None:
            from helpers.backends.kubeapi import KubeAPI

            self._api = KubeAPI(self.context)
        return self._api

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

    def _state(self) -> dict[str, Any]:
        return statefile.read(self.state_file) or {}

    def _save(self, state: dict[str, Any]) -> None:
        statefile.write(self.state_file, state)

    def urls(self) -> dict[str, str]:
        host = config.LOOPBACK
        return {
            "serve": f"http://{host}:{self.ports.serve}",
            "dashboard": f"http://{host}:{self.ports.dashboard}",
            "metrics": f"http://{host}:{self.ports.metrics}",
        }

    @property
    def serve_url(self) -> str:
        self.ensure_port_forwards()
        return self.urls()["serve"]

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
        if not self.api.crd_installed():
            raise BackendError(
                "The KubeRay operator is not installed in this cluster (no CRD rayservices.ray.io). "
                f"Ask the cluster's admin, or install it: helm install kuberay-operator kuberay/kuberay-operator "
                f"--version {config.KUBERAY_VERSION}"
            )
        self.api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})
        missing = self.api.missing_rights(self.namespace)
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
        self.api.apply(self.app_code_configmap())
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
        redis = self._needs_redis(manifest)
        if redis:
            self.ensure_redis()
        obj = copy.deepcopy(manifest.raw)
        obj["metadata"]["namespace"] = self.namespace
        self.api.apply(obj)
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

    # -- GCS fault tolerance: the namespace's Redis ------------------------------------------------------

    def _needs_redis(self, manifest: RayServiceManifest) -> bool:
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

    def ensure_redis(self, timeout: float = 180) -> float:
        """The Secret (a new random password if there is none), Redis's Deployment and Service, then a wait
        until Redis is ready. The password is sent to the API server only: never printed, never saved."""
        created = self.api.create_secret(
            self.namespace, REDIS_SECRET, {REDIS_SECRET_KEY: secrets.token_hex(24)}, dict(REDIS_LABELS)
        )
        for obj in redis_objects(self.namespace):
            self.api.apply(obj)
        secret = f"Secret {REDIS_SECRET!r} " + (
            "created with a random password" if created else "already there (kept: Redis uses it)"
        )
        print(f"GCS fault tolerance: {secret}; Redis (manifests/redis/) applied in {self.namespace!r}.")
        return wait_for(
            f"Redis {self.namespace}/{REDIS_NAME} to be ready",
            self._redis_ready,
            timeout,
            interval=2.0,
            on_timeout=self._redis_diagnose,
        )

    def _redis_ready(self) -> tuple[bool, str]:
        status = self.api.deployment_status(self.namespace, REDIS_NAME)
        if status is None:
            return False, "no Deployment yet"
        wanted = status["replicas"]
        done = (
            status["observed_generation"] >= status["generation"]
            and status["updated_replicas"] >= wanted
            and status["ready_replicas"] >= wanted
        )
        return done, f"{status['ready_replicas']}/{wanted} ready"

    def _redis_diagnose(self) -> str:
        lines = []
        for pod in self.api.list_pods(self.namespace, f"app.kubernetes.io/name={REDIS_NAME}"):
            status = pod.get("status") or {}
            waiting = [((cs.get("state") or {}).get("waiting") or {}) for cs in status.get("container_statuses") or []]
            reasons = [f"{w.get('reason')}: {w.get('message') or ''}".rstrip(": ") for w in waiting if w.get("reason")]
            lines.append(f"pod {pod['metadata']['name']}: {status.get('phase')} {'; '.join(reasons)}".rstrip())
        for event in newest_first(self.api.list_events(self.namespace))[:10]:
            involved = event.get("involved_object") or {}
            if event.get("type") == "Warning" and str(involved.get("name", "")).startswith(REDIS_NAME):
                lines.append(
                    f"event {involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: "
                    f"{event.get('message')}"
                )
        return "Redis:\n  " + ("\n  ".join(lines) or "(no Redis pod yet)")

    def delete_redis(self) -> None:
        """Delete Redis's Deployment and Service and the Secret (after the RayService is gone: KubeRay's
        cleanup Job of a RayCluster with GCS FT needs all three)."""
        self.api.delete_deployment(self.namespace, REDIS_NAME)
        self.api.delete_kube_service(self.namespace, REDIS_NAME)
        self.api.delete_secret(self.namespace, REDIS_SECRET)
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
        obj = self.api.get_rayservice(self.namespace, name)
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
            if self._dashboard_forwarded():
                details = self.serve_api.details()
        except ServeAPIError:
            details = None
        return status_mod.from_custom_resource(obj["metadata"]["name"], raw, details)

    def _dashboard_forwarded(self) -> bool:
        """Our forward to the dashboard runs (not whatever else may hold the port)."""
        forward = (self._state().get("forwards") or {}).get("dashboard")
        return bool(forward) and _pid_alive(forward)

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
        data = self.api.read_secret(self.namespace, name) if name else None
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

    def wait_ready(self, timeout: float = 600) -> float:
        """Wait until the operator has seen the latest spec, every app is RUNNING and Ready is True, on two reads
        one reconcile apart: right after an in-place serveConfigV2 update KubeRay writes the new observedGeneration
        with the OLD applications' statuses (RUNNING) for one reconcile, before its next one reads Serve's
        (tests/host/test_kuberay_behaviour.py). After a promotion one read is enough: the apps are the new
        RayCluster's."""
        wanted = self._state().get("apps", [])
        streak = [0]  # consecutive reads that said "done", 2 s apart (wait_for's interval: one reconcile)
        promoted = [False]  # a new RayCluster was promoted during this wait: its apps are the new config's

        def ready() -> tuple[bool, str]:
            done, detail = check()
            promoted[0] = promoted[0] or "pending cluster" in detail
            streak[0] = streak[0] + 1 if done else 0
            return streak[0] >= (1 if promoted[0] else 2), detail

        failing_since: dict[str, float] = {}  # app -> when a read of the current spec first showed it DEPLOY_FAILED

        def check() -> tuple[bool, str]:
            obj = self._resource()
            raw = obj.get("status") or {}
            seen = (raw.get("observedGeneration") or 0) >= (obj["metadata"].get("generation") or 0)
            # A failure counts once the operator has seen the spec and still shows it FAILED_CONFIRM_S later: right
            # after an apply the status can be the previous spec's (a rollback from a failed update shows that
            # failure for a reconcile or two, seen on the host cluster), and a real failure stays.
            failed = {}
            for side in ("activeServiceStatus", "pendingServiceStatus"):
                for app, app_status in ((raw.get(side) or {}).get("applicationStatuses") or {}).items():
                    if seen and app_status.get("status") == "DEPLOY_FAILED":
                        failed[app] = app_status.get("message", "")
            now = time.monotonic()
            for app in list(failing_since):
                if app not in failed:
                    del failing_since[app]
            for app, message in failed.items():
                if now - failing_since.setdefault(app, now) >= FAILED_CONFIRM_S:
                    raise DeployFailedError(app, message)
            active = (raw.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
            pending = (raw.get("pendingServiceStatus") or {}).get("rayClusterName")
            running = all((active.get(a) or {}).get("status") == "RUNNING" for a in wanted)
            current = status_mod.from_custom_resource(obj["metadata"]["name"], raw, None)
            done = seen and running and not pending and status_mod.is_ready(current)
            detail = status_mod.summary(current) + (f"; pending cluster {pending}" if pending else "")
            if done:
                # The RayService's status is KubeRay's last word, which can be old: while there is no head it
                # keeps what it last saw (RUNNING), and for a moment after a new head is ready it has not asked it
                # yet. Serve's own word, and a pod behind the serve Service, are what a request will meet.
                done, serving = self._serving(wanted)
                detail += "" if done else f"; {serving}"
            return done, detail

        seconds = wait_for(
            f"RayService {self._service_name()} to be Ready", ready, timeout, interval=2.0, on_timeout=self.diagnose
        )
        self.ensure_port_forwards()
        return seconds

    def _serving(self, apps: list[str]) -> tuple[bool, str]:
        """Serve (through the forward to the head) reports every app in ``apps`` RUNNING, and ``<name>-serve-svc``
        sends connections to at least one pod."""
        self.ensure_port_forwards()  # a port held by another program is no passing state: it raises, naming it
        try:
            listed = self.serve_api.details().get("applications") or {}
        except ServeAPIError as exc:
            return False, f"Serve's API not answering ({str(exc).splitlines()[0]})"
        states = {app: (listed.get(app) or {}).get("status") or "not listed" for app in apps}
        if any(state != "RUNNING" for state in states.values()):
            return False, "Serve says " + ", ".join(f"{a} {s}" for a, s in states.items())
        service = serve_service(self._state().get("service") or "")
        behind = self.api.pods_behind(self.namespace, service)
        if not behind:
            return False, f"no pod behind {service} yet"
        if not self._routes_somewhere(service):
            return False, f"kube-proxy's rules do not send {service} to {', '.join(behind)} yet"
        return True, "serving"

    def _routes_somewhere(self, service: str) -> bool:
        """Whether connections to ``service`` reach a pod once its EndpointSlice has one: here at once (the forwards
        read the EndpointSlice); the host backend reads kube-proxy's rules, which follow within their sync period."""
        return True

    def diagnose(self) -> str:
        """What the cluster looks like: pods that are not ready and why, recent warnings, app messages."""
        lines = []
        for pod in self.api.list_pods(self.namespace, "ray.io/is-ray-node=yes"):
            meta, status = pod["metadata"], pod.get("status") or {}
            waiting = [((cs.get("state") or {}).get("waiting") or {}) for cs in status.get("container_statuses") or []]
            reasons = [w.get("reason") for w in waiting if w.get("reason")]
            if status.get("phase") != "Running" or reasons:
                lines.append(f"pod {meta['name']}: {status.get('phase')} {', '.join(r for r in reasons if r)}")
        # The API lists events by name, not time: newest first by their last (or only) timestamp.
        for event in newest_first(self.api.list_events(self.namespace))[:10]:
            if event.get("type") == "Warning":
                involved = event.get("involved_object") or {}
                lines.append(
                    f"event {involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: "
                    f"{event.get('message')}"
                )
        serve = ""
        try:
            obj = self._resource()
            serve = (
                status_mod.timeout_report(
                    status_mod.from_custom_resource(obj["metadata"]["name"], obj.get("status") or {}, None)
                )
                + "\n"
            )
        except BackendError:
            pass
        return (
            serve + "What the cluster looks like:\n  " + ("\n  ".join(lines) or "(no pod problems or warnings found)")
        )

    # -- access --------------------------------------------------------------------------------

    def _forwards(self, name: str) -> list[tuple[str, str, int, int]]:
        return [
            ("dashboard", head_service(name), self.ports.dashboard, 8265),
            ("serve", serve_service(name), self.ports.serve, 8000),
            ("metrics", head_service(name), self.ports.metrics, 8080),
        ]

    def metrics_urls(self) -> list[str]:
        """The head's Prometheus endpoint through the port-forward (every pod's: install_monitoring)."""
        self.ensure_port_forwards()
        return [f"http://{config.LOOPBACK}:{self.ports.metrics}/metrics"]

    def ensure_port_forwards(self) -> None:
        """Start (or restart) the port-forwards to the head and serve Services, on 127.0.0.1 only."""
        name = self._state().get("service")
        if not name:
            return
        state = self._state()
        forwards = state.setdefault("forwards", {})
        for label, service, local, remote in self._forwards(name):
            pid = forwards.get(label)
            if pid and _pid_alive(pid) and procs.wait_port(local, timeout=0.5):
                continue
            if pid:
                procs.stop_groups([pid], grace=1)
            # Not `kubectl port-forward svc/...`: that picks one pod when it starts and never follows the
            # Service (kubernetes/kubectl#686). This forward resolves the Service's ready endpoints for every
            # new connection, so a replaced head pod or a promoted RayCluster is reached without a restart.
            args = forward.command(
                sys.executable, service, local, remote, self.namespace, self.context, self.pod_network
            )
            same = _same_forward(procs.listener_pid(local), args)
            if same:  # the very forward, started from another state folder (another session): share it
                forwards[label] = same
                self._save(state)
                continue
            holder = procs.port_holder(local)
            if holder:
                raise BackendError(f"Cannot forward {service}: port {local} is in use by {holder}.")
            env = {**os.environ, procs.MARKER_VAR: self.marker}
            forwards[label] = self.commands.start(args, env, self.log_dir / f"port-forward-{label}.log")
            self._save(state)
            if not procs.wait_port(local, timeout=20):
                raise BackendError(
                    f"`{' '.join(args)}` did not open 127.0.0.1:{local}. Its log:\n"
                    + procs.tail(self.log_dir / f"port-forward-{label}.log")
                )

    def our_processes(self) -> list:
        return procs.find_marked(self.marker)

    def listeners(self) -> list[tuple[str, int, int]]:
        return procs.listeners({p.pid for p in self.our_processes()})

    def listening_addresses(self) -> list[str]:
        """Addresses of what the tutorial opened on this machine (the port-forwards)."""
        return sorted({addr.removeprefix("::ffff:") for addr, _, _ in self.listeners()})

    def nodes_table(self) -> str:
        """The Ray pods of the active cluster (they exist once a RayService is applied)."""
        from helpers.display import table

        name = self._state().get("service")
        active = self.cluster_names()[0] if name else None
        if not active:
            return "No Ray pods yet: KubeRay creates them when the RayService is applied (lesson 02)."
        rows = []
        for pod in self.api.list_pods(self.namespace, ray_pod_selector(active)):
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
        return self.api.list_pods(self.namespace, ray_pod_selector(active, node_type))

    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> dict[str, Any]:
        """Delete worker pod ``index`` (by name; the local backend's node loss): KubeRay creates a new pod in
        its place and Serve re-places its replicas. Returns the pod and the replicas it held (None when Serve's
        API could not say)."""
        pods = sorted((p for p in self.ray_pods("worker") if not _terminating(p)), key=lambda p: p["metadata"]["name"])
        if not 0 <= index < len(pods):
            raise BackendError(f"There is no worker pod {index}: the active cluster has {len(pods)}.")
        held = self._replicas_in(pods[index])
        name = pods[index]["metadata"]["name"]
        self.on_kubernetes(self.kubectl.delete_pod(name), check=True)
        return {"pod": name, "node": name, "replicas": held}

    def _replicas_in(self, pod: dict[str, Any]) -> list[str] | None:
        """The ids of the replicas (of every application) running in ``pod``, from Serve's API."""
        try:
            self.ensure_port_forwards()
            details = self.serve_api.details()
        except (ServeAPIError, BackendError):
            return None
        ip = (pod.get("status") or {}).get("pod_ip")
        return [r["replica_id"] for r in status_mod.replicas(details) if r.get("node_ip") == ip]

    def kill_proxy(self) -> dict[str, Any]:
        """SIGKILL the HTTP proxy inside the head pod; Serve restarts it after failed health checks."""
        (head,) = self.ray_pods("head")
        name = head["metadata"]["name"]
        self.ensure_port_forwards()
        details = self.serve_api.details()
        head_node = (details.get("controller_info") or {}).get("node_id")
        old = ((details.get("proxies") or {}).get(head_node) or {}).get("actor_id")
        self.on_kubernetes(self.kubectl.exec(name, "pkill", "-9", "-f", "ray::ProxyActor"), check=True)
        contained = self._wait_out_of_serve_service(head)
        return {"pod": name, "node_id": head_node, "proxy_actor": old, "contained_at": contained}

    def _wait_out_of_serve_service(self, pod: dict[str, Any], timeout: float = 60.0) -> float | None:
        """Until ``pod`` gets no new connection through ``<name>-serve-svc``: KubeRay sets its ``ray.io/serve`` label
        to false when its proxy does not answer, a deleted pod is terminating at once, and the Service's
        EndpointSlice drops it (and, where kube-proxy's rules are on this machine, they drop it too). Until then
        the Service still sends the pod new connections, which a dead proxy fails. Returns that moment
        (``time.monotonic()``), None if the pod still got connections after ``timeout`` s."""
        service = serve_service(self._state().get("service") or "")
        name = pod["metadata"]["name"]
        address = (pod.get("status") or {}).get("pod_ip")

        def gone() -> tuple[bool, str]:
            behind = self.api.pods_behind(self.namespace, service)
            if name in behind:
                return False, f"{service} sends to {', '.join(behind)}"
            if address and self._routes_to(service, address):
                return False, f"kube-proxy's rules still send {service} to {address}"
            return True, f"{service} sends to {', '.join(behind) or 'no pod'}"

        try:
            wait_for(f"{name} to leave {service}", gone, timeout, interval=0.2)
        except TimeoutError:
            return None
        return time.monotonic()

    def _routes_to(self, service: str, address: str) -> bool:
        """Whether connections to ``service`` still reach ``address`` once its EndpointSlice has dropped the pod:
        here they do not (the forwards read the EndpointSlice for every connection); the host backend, whose
        forwards go through kube-proxy's rules, reads those."""
        return False

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Serve's HTTP proxies by node id, from Serve's API via the port-forward."""
        self.ensure_port_forwards()
        return self.serve_api.details().get("proxies") or {}

    def replace_cluster(self, manifest: RayServiceManifest | str | Path, timeout: float = 900) -> None:
        """Apply ``manifest`` whose ``rayClusterConfig`` differs from the running one (such as one that adds
        ``gcsFaultToleranceOptions``): KubeRay builds a new RayCluster, waits until its applications run, then
        points the Services at it and deletes the old one. Returns when the new cluster is the active one, so
        what follows (a fault, a measurement) reaches the new cluster. Wait for the apps with ``wait_ready()``."""
        before, _ = self.cluster_names()
        self.apply(manifest)

        def promoted() -> tuple[bool, str]:
            active, pending = self.cluster_names()
            return bool(active) and active != before and pending is None, f"active {active}, pending {pending}"

        wait_for("KubeRay to build the new RayCluster and switch to it", promoted, timeout, interval=2.0)
        self.on_kubernetes(self.kubectl.get_rayclusters(), check=True)
        if before:
            self.wait_cluster_deleted(before)

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
            left = [p["metadata"]["name"] for p in self.api.list_pods(self.namespace, f"ray.io/cluster={name}")]
            return not left, f"{len(left)} pod(s) of {name} left"

        return wait_for(f"RayCluster {name} to be deleted", gone, timeout, interval=2.0)

    def delete_head_pod(self) -> dict[str, Any]:
        """Delete the head pod and wait until KubeRay's new head pod (a new name) is ready.

        Without GCS fault tolerance the new head starts an empty GCS: KubeRay deploys the applications again
        (the worker pods' raylets lose their GCS and restart). With it (gcsFaultToleranceOptions), the new head
        reads the GCS tables back from Redis, the worker raylets reconnect (KubeRay gives them
        RAY_gcs_rpc_server_reconnect_timeout_s=600), Serve's controller recovers its applications, and the worker
        pods serve meanwhile. Returns the pod deleted, the new head and ``head_back_s`` (seconds from the delete
        until the new head pod was ready); ``wait_head_back`` also waits for Serve."""
        (head,) = self.ray_pods("head")
        old = head["metadata"]["name"]
        lost = self._replicas_in(head)
        self.on_kubernetes(self.kubectl.delete_pod(old), check=True)
        contained = self._wait_out_of_serve_service(head)
        new, seconds = self._wait_new_head(old, HEAD_TIMEOUT)
        return {
            "pod": old,
            "contained_at": contained,
            "head": new,
            "head_back_s": round(seconds, 1),
            "gcs_fault_tolerance": bool(self._state().get("gcs_ft")),
            "replicas": lost,
        }

    def _wait_new_head(self, old_head: str, timeout: float) -> tuple[str, float]:
        found: dict[str, str] = {}

        def head_ready() -> tuple[bool, str]:
            heads = self.ray_pods("head")
            new = [p for p in heads if p["metadata"]["name"] != old_head]
            ready = [p["metadata"]["name"] for p in new if pod_ready(p)]
            if ready:
                found["head"] = ready[0]
                return True, f"{ready[0]} ready"
            if new:
                return False, f"{new[0]['metadata']['name']} {(new[0].get('status') or {}).get('phase')}"
            return False, f"{old_head} deleted, no new head pod yet"

        seconds = wait_for("a new head pod to be ready", head_ready, timeout, interval=1.0, on_timeout=self.diagnose)
        return found["head"], seconds

    def wait_head_back(self, old_head: str, timeout: float = 300) -> dict[str, Any]:
        """After the head pod ``old_head`` was deleted: wait until a new head pod is ready, then until Serve (on
        that head, through the forward that follows ``<name>-head-svc``) reports every application RUNNING.

        Returns the new head's name and the seconds of each wait, from the call. The RayService's Ready
        condition is no measure of this: with GCS fault tolerance the workers keep serving, so Ready can
        stay True all along, and KubeRay reports the applications it last saw until it notices the head is gone."""
        head, head_s = self._wait_new_head(old_head, timeout)
        wanted = self._state().get("apps", [])

        def serve_running() -> tuple[bool, str]:
            try:
                self.ensure_port_forwards()
                apps = self.serve_api.details().get("applications") or {}
            except (ServeAPIError, BackendError) as exc:
                return False, f"Serve's API not answering yet ({str(exc).splitlines()[0]})"
            states = {app: (apps.get(app) or {}).get("status") or "not listed" for app in wanted}
            return all(s == "RUNNING" for s in states.values()), ", ".join(f"{a} {s}" for a, s in states.items())

        serve_s = wait_for(
            "Serve to report every application RUNNING", serve_running, max(timeout - head_s, 1.0), interval=1.0
        )
        return {"head": head, "head_ready_s": head_s, "serve_running_s": head_s + serve_s}

    def running_replicas(self, app: str) -> list[dict[str, Any]]:
        """The RUNNING replicas of ``app`` (id, pid, node IP), from Serve's API via the port-forward."""
        self.ensure_port_forwards()
        return status_mod.replicas(self.serve_api.details(), app)

    def kill_replica(self, app: str) -> dict[str, Any]:
        """SIGKILL one replica process of ``app`` inside its pod; Serve starts a replacement."""
        replicas = self.running_replicas(app)
        if not replicas:
            raise BackendError(f"Application {app!r} has no running replica to kill.")
        victim = replicas[0]
        pods = [
            p
            for p in self.ray_pods("head") + self.ray_pods("worker")
            if (p.get("status") or {}).get("pod_ip") == victim["node_ip"]
        ]
        if not pods:
            raise BackendError(f"No pod has the replica's node IP {victim['node_ip']}.")
        pod = pods[0]["metadata"]["name"]
        self.on_kubernetes(self.kubectl.exec(pod, "kill", "-9", str(victim["pid"])), check=True)
        return {"pod": pod, "pid": victim["pid"], "replica": victim["replica_id"], "node": victim["node_id"][:8]}

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
        """kube-prometheus-stack, PodMonitors for every Ray pod, and Ray's Grafana dashboards.

        Returns the local URLs of Prometheus and Grafana (port-forwards on 127.0.0.1).
        """
        import tempfile

        import yaml

        ns = config.MONITORING_NAMESPACE
        helm = ["helm", *(["--kube-context", self.context] if self.context else [])]
        values = config.MANIFESTS_DIR / "monitoring" / "values.yaml"
        self.commands.run(
            ["helm", "repo", "add", "prometheus-community", config.PROMETHEUS_STACK_REPO, "--force-update"]
        )
        self.commands.run(
            [
                *helm,
                "upgrade",
                "--install",
                "prometheus",
                config.PROMETHEUS_STACK_CHART,
                "--version",
                config.PROMETHEUS_STACK_VERSION,
                "--namespace",
                ns,
                "--create-namespace",
                "--values",
                str(values),
                "--wait",
                "--timeout",
                "10m",
            ],
            timeout=900,
            progress="installing kube-prometheus-stack with Helm",
        )
        for monitor in yaml.safe_load_all((config.MANIFESTS_DIR / "monitoring" / "pod-monitors.yaml").read_text()):
            monitor["spec"]["namespaceSelector"]["matchNames"] = [self.namespace]
            self.api.apply(monitor)
        # Ray writes its Grafana dashboards into the head pod; ship them to Grafana's sidecar.
        (head,) = self.ray_pods("head")
        with tempfile.TemporaryDirectory() as tmp:
            source = f"{head['metadata']['name']}:/tmp/ray/session_latest/metrics/grafana/dashboards"
            self.commands.run(list(self.kubectl.cp(source, tmp).args))
            dashboards = {p.name: p.read_text() for p in sorted(Path(tmp).glob("*.json"))}
        for configmap in dashboard_configmaps(dashboards, ns):
            self.api.apply(configmap)
        urls = {}
        for label, service, local, remote in (
            ("grafana", "prometheus-grafana", self.ports.grafana, 80),
            ("prometheus", "prometheus-kube-prometheus-prometheus", self.ports.prometheus, 9090),
        ):
            args = forward.command(sys.executable, service, local, remote, ns, self.context, self.pod_network)
            env = {**os.environ, procs.MARKER_VAR: self.marker}
            self.commands.start(args, env, self.log_dir / f"port-forward-{label}.log")
            urls[label] = f"http://{config.LOOPBACK}:{local}"
        return urls

    # -- down ----------------------------------------------------------------------------------

    def stop_port_forwards(self) -> int:
        state = self._state()
        stopped = procs.stop_groups(list((state.get("forwards") or {}).values()), marker=self.marker, grace=2)
        state.pop("forwards", None)
        if state:
            self._save(state)
        return stopped

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
        self.api.delete_rayservice(self.namespace, name)
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
        get = self.api.get_rayservice if kind == "RayService" else self.api.get_raycluster

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
        if name and self.api.get_rayservice(self.namespace, name) is not None:
            found.append(f"RayService {self.namespace}/{name}")
        if self.api.deployment_status(self.namespace, REDIS_NAME) is not None:
            found.append(f"Deployment {self.namespace}/{REDIS_NAME}")
        if self.api.read_secret(self.namespace, REDIS_SECRET) is not None:
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
            self.api.delete_rayservice(self.namespace, name)
            if redis:
                try:
                    self._wait_deleted(name, DELETE_TIMEOUT)
                except TimeoutError as exc:  # still deleted below: down leaves nothing of ours behind
                    print(f"{str(exc).splitlines()[0]} Deleting Redis anyway; KubeRay may have left its keys.")
            self.api.delete_configmap(self.namespace, APP_CODE_CONFIGMAP)
        if redis:
            self.delete_redis()
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            what = f"deleted RayService {name!r} in {self.namespace!r}" if name else "no RayService to delete"
            what += f", then Redis and its Secret {REDIS_SECRET!r}" if redis else ""
            print(f"Stopped {stopped} port-forward process(es); {what}.")
        return stopped


CONFIGMAP_LIMIT = 1024 * 1024  # bytes: Kubernetes refuses a bigger object (etcd's limit)


def dashboard_configmaps(dashboards: dict[str, str], namespace: str) -> list[dict[str, Any]]:
    """One ConfigMap per Grafana dashboard (Ray's dashboards together can pass the 1 MiB object limit),
    labelled for Grafana's sidecar; a single dashboard over the limit is an error that names it."""
    maps = []
    for filename, text in sorted(dashboards.items()):
        size = len(text.encode())
        if size >= CONFIGMAP_LIMIT - 4096:  # room for the object's metadata
            raise BackendError(f"Grafana dashboard {filename} is {size} bytes: too big for one ConfigMap (1 MiB).")
        stem = filename.removesuffix(".json").replace("_", "-").lower()
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"ray-{stem}"[:63], "namespace": namespace, "labels": {"grafana_dashboard": "1"}},
                "data": {filename: text},
            }
        )
    return maps


def newest_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events sorted newest first by time (last_timestamp, else event_time, else first_timestamp, else the
    creation time): the API returns them sorted by name."""

    def when(event: dict[str, Any]) -> str:
        meta = event.get("metadata") or {}
        for value in (
            event.get("last_timestamp"),
            event.get("event_time"),
            event.get("first_timestamp"),
            meta.get("creation_timestamp"),
        ):
            if value:
                return value.isoformat() if hasattr(value, "isoformat") else str(value)
        return ""

    return sorted(events, key=when, reverse=True)


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
    (deployment,) = [o for o in redis_objects(DEFAULT_NAMESPACE) if o["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def _same_forward(pid: int | None, args: list[str]) -> int | None:
    """``pid`` if it is a forward started with exactly ``args`` (its interpreter aside), else None."""
    if not pid:
        return None
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return None
    return pid if cmdline[1:] == list(args[1:]) else None


def pod_ready(pod: dict[str, Any]) -> bool:
    """A pod (the client's to_dict() shape) that is not being deleted and whose Ready condition is True."""
    if (pod.get("metadata") or {}).get("deletion_timestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _terminating(pod: dict[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletion_timestamp"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return procs.group_alive(pid)


__all__ = ["KubernetesBackend", "head_service", "ray_pod_selector", "serve_service"]
