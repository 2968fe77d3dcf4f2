"""The few Kubernetes API calls the tutorial makes, through the official ``kubernetes`` client.

One small class, so tests can replace it with a recorder and check every call: the object
applied, the namespace, the label selector.
"""

from __future__ import annotations

from typing import Any

from helpers import statefile
from helpers.errors import BackendError

FIELD_MANAGER = "rayservice-tutorial"
RAYSERVICE = ("ray.io", "v1", "rayservices")
RAYCLUSTER = ("ray.io", "v1", "rayclusters")
WORKSHOP_HINT = (
    "ask the instructor to apply manifests/workshop/ for your namespace (the Role `rayservice-learner`; "
    "labs/INSTRUCTOR.md has the steps)"
)

# -- the rights a learner needs in their namespace ---------------------------------------------------------------
# A right is (verb, resource), the resource written as kubectl writes it: "pods", "pods/log", "rayservices.ray.io",
# "endpointslices.discovery.k8s.io". Each table below is one code path of the kubernetes backend; the Role of
# manifests/workshop/ grants exactly their union (tests/unit/test_workshop.py compares them).

# KubeAPI's namespaced calls (this module). Server-side apply is a PATCH: verb `patch` (and `create` when the
# object does not exist yet; `get` for the read that comes with it).
KUBEAPI_RIGHTS: dict[str, tuple[tuple[str, str], ...]] = {
    "apply ConfigMap": (("get", "configmaps"), ("create", "configmaps"), ("patch", "configmaps")),
    "apply RayService": (
        ("get", "rayservices.ray.io"),
        ("create", "rayservices.ray.io"),
        ("patch", "rayservices.ray.io"),
    ),
    "get_rayservice": (("get", "rayservices.ray.io"),),
    "delete_rayservice": (("delete", "rayservices.ray.io"),),
    "get_raycluster": (("get", "rayclusters.ray.io"),),  # a deleted one held by KubeRay's Redis cleanup finalizer
    "list_pods": (("list", "pods"),),
    "pod_log": (("get", "pods/log"),),  # a wait that runs out: the last run of a restarted container
    "delete_pod": (("delete", "pods"),),
    "pods_behind": (("list", "endpointslices.discovery.k8s.io"),),  # a fault's end: its pod out of the Service
    "read_secret": (("get", "secrets"),),  # the auth token KubeRay keeps in a Secret (authOptions: {mode: token})
    "list_events": (("list", "events"),),
    "delete_configmap": (("delete", "configmaps"),),
    # GCS fault tolerance (manifests/redis/): the Redis Deployment and Service, the Secret with its password.
    "apply Deployment": (("get", "deployments.apps"), ("create", "deployments.apps"), ("patch", "deployments.apps")),
    "apply Service": (("get", "services"), ("create", "services"), ("patch", "services")),
    "create_secret": (("create", "secrets"),),
    "deployment_status": (("get", "deployments.apps"),),
    "delete_deployment": (("delete", "deployments.apps"),),
    "delete_kube_service": (("delete", "services"),),
    "delete_secret": (("delete", "secrets"),),
}
# The forwards that follow the Service (helpers/backends/forward.py, EndpointsAPI): the Service, its
# EndpointSlices, and the API server's pod port-forward (a websocket: `get` for the upgrade, `create` since
# Kubernetes 1.31 checks it too).
FORWARD_RIGHTS: dict[str, tuple[tuple[str, str], ...]] = {
    "read_service": (("get", "services"),),
    "list_endpoint_slices": (("list", "endpointslices.discovery.k8s.io"),),
    "connect": (("get", "pods/portforward"), ("create", "pods/portforward")),
}
# The kubectl commands the backend runs and the lessons show (helpers/kubectl.py, one entry per method).
KUBECTL_RIGHTS: dict[str, tuple[tuple[str, str], ...]] = {
    "apply": (("get", "rayservices.ray.io"), ("create", "rayservices.ray.io"), ("patch", "rayservices.ray.io")),
    "diff": (("get", "rayservices.ray.io"), ("patch", "rayservices.ray.io")),  # a server-side dry-run apply
    "dry_run": (("get", "rayservices.ray.io"), ("create", "rayservices.ray.io"), ("patch", "rayservices.ray.io")),
    "get_rayservice": (("get", "rayservices.ray.io"),),
    "describe_rayservice": (("get", "rayservices.ray.io"), ("list", "events")),
    "wait_ready": (("get", "rayservices.ray.io"), ("list", "rayservices.ray.io"), ("watch", "rayservices.ray.io")),
    "get_rayclusters": (("list", "rayclusters.ray.io"),),
    "get_pods": (("list", "pods"),),
    "describe_pods": (("list", "pods"), ("list", "events")),
    "get_ray_pods": (("list", "pods"),),
    "get_services": (("list", "services"),),
    "get_created_for": (("list", "rayclusters.ray.io"), ("list", "services")),
    "port_forward": (("get", "services"), ("list", "pods"), ("get", "pods"), ("create", "pods/portforward")),
    "delete_pod": (("delete", "pods"),),
    "logs": (("get", "pods"), ("get", "pods/log")),
    "logs_by_label": (("list", "pods"), ("get", "pods/log")),
    "events": (("list", "events"),),
    "raycluster_events": (("list", "events"),),
    "wait_app_running": (
        ("get", "rayservices.ray.io"),
        ("list", "rayservices.ray.io"),
        ("watch", "rayservices.ray.io"),
    ),
    "wait_upgrade_done": (
        ("get", "rayservices.ray.io"),
        ("list", "rayservices.ray.io"),
        ("watch", "rayservices.ray.io"),
    ),
    "update_state": (("get", "rayservices.ray.io"),),
    # exec over a websocket (kubectl >= 1.30) is a GET: `get`, and `create` since Kubernetes 1.31 checks it too
    "exec": (("get", "pods"), ("get", "pods/exec"), ("create", "pods/exec")),
    # exec into svc/<name>-head-svc: kubectl reads the Service and lists the pods its selector picks
    "in_head": (("get", "services"), ("list", "pods"), ("get", "pods"), ("get", "pods/exec"), ("create", "pods/exec")),
    "cp": (("get", "pods"), ("get", "pods/exec"), ("create", "pods/exec")),  # kubectl cp runs tar in the pod
    "delete_rayservice": (("delete", "rayservices.ray.io"),),
    "get_redis": (("get", "deployments.apps"), ("get", "services"), ("get", "secrets")),
}
# Read-only views a learner types beyond the lessons' cells: `kubectl get rayclusters -w`, `kubectl describe
# raycluster <name>`, `kubectl get pods -w` (never a write).
EXPLORE_RIGHTS: dict[str, tuple[tuple[str, str], ...]] = {
    "kubectl get/describe rayclusters, -w": (("get", "rayclusters.ray.io"), ("watch", "rayclusters.ray.io")),
    "kubectl get pods -w": (("watch", "pods"),),
}


def learner_rights() -> dict[str, set[str]]:
    """resource -> verbs: everything the kubernetes backend and the lessons do in a learner's namespace."""
    rights: dict[str, set[str]] = {}
    for table in (KUBEAPI_RIGHTS, FORWARD_RIGHTS, KUBECTL_RIGHTS, EXPLORE_RIGHTS):
        for pairs in table.values():
            for verb, resource in pairs:
                rights.setdefault(resource, set()).add(verb)
    return rights


def split_resource(resource: str) -> tuple[str, str, str]:
    """ "pods/log" -> ("", "pods", "log"); "rayservices.ray.io" -> ("ray.io", "rayservices", "")."""
    name, _, sub = resource.partition("/")
    plural, _, group = name.partition(".")
    return group, plural, sub


def missing_right(verb: str, resource: str, namespace: str | None) -> str:
    where = f" in namespace `{namespace}`" if namespace else " (cluster-wide)"
    return f"your account cannot `{verb}` `{resource}`{where}: {WORKSHOP_HINT}."


class ForbiddenError(BackendError):
    """The API server answered 403: the message names the verb, the resource and the namespace."""


def api_error(what: str, exc, right: tuple[str, str, str | None] | None = None) -> BackendError:
    """The API server's error as the tutorial's: a 403 names the missing right (verb, resource, namespace)."""
    if exc.status == 403 and right:
        return ForbiddenError(f"Kubernetes API: {what} was refused (403): " + missing_right(*right))
    return BackendError(f"Kubernetes API: {what} failed ({exc.status} {exc.reason}): {exc.body}")


def ready_pods(slices: list[dict[str, Any]]) -> list[str]:
    """The pods a Service sends new connections to: ready (or ``ready`` unset) and not terminating."""
    found = set()
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready") is False or conditions.get("terminating"):
                continue
            target = endpoint.get("target_ref") or {}
            if target.get("kind", "Pod") == "Pod" and target.get("name"):
                found.add(target["name"])
    return sorted(found)


class KubeAPI:
    def __init__(self, context: str | None = None, kubeconfig: str | None = None):
        import os

        from kubernetes import client, config, dynamic

        try:
            # KUBECONFIG is read now (the client reads it once, at import).
            api_client = config.new_client_from_config(
                config_file=kubeconfig or os.environ.get("KUBECONFIG"), context=context
            )
        except Exception as exc:  # noqa: BLE001 - kubeconfig problems come in many types
            raise BackendError(
                f"Cannot load the kubeconfig{f' context {context!r}' if context else ''}: {exc}. "
                "Check `kubectl config get-contexts`."
            ) from None
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.extensions = client.ApiextensionsV1Api(api_client)
        # The dynamic client caches API discovery in a file, by default in /tmp, named after the server's address,
        # shared and kept for ever: a stale one answers for the server. Each client keeps its own, in this process's
        # folder of the state folder (removed when the process goes).
        cache = statefile.process_folder("discovery") / f"{id(self)}.json"
        self.dynamic = dynamic.DynamicClient(api_client, cache_file=str(cache))
        self._exception = client.ApiException

    def _call(self, what: str, fn, *args, right: tuple[str, str, str | None] | None = None, **kwargs):
        """``fn(*args, **kwargs)``; None on 404. ``right`` = (verb, resource, namespace) names a 403."""
        try:
            return fn(*args, **kwargs)
        except self._exception as exc:
            if exc.status == 404:
                return None
            raise api_error(what, exc, right) from None

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of any object (what `kubectl apply --server-side` does).

        A Namespace is only made sure of, never patched: an existing one is left as it is (on a shared
        cluster a learner has rights inside their namespace only, none on the Namespace object)."""
        if obj["kind"] == "Namespace" and obj["apiVersion"] == "v1":
            return self.ensure_namespace(obj)
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = obj["metadata"].get("namespace")
        name = f"{resource.name}.{resource.group}" if resource.group else resource.name
        what = f"apply {obj['kind']} {obj['metadata']['name']}"
        try:
            result = resource.server_side_apply(
                body=obj, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True
            )
        except self._exception as exc:
            if exc.status == 404 and namespace:  # the only 404 an apply can get: no such namespace
                raise BackendError(
                    f"Kubernetes API: {what} failed: namespace `{namespace}` does not exist and this account "
                    f"cannot create it: {WORKSHOP_HINT}."
                ) from None
            raise api_error(what, exc, ("patch", name, namespace)) from None
        return result.to_dict() if result is not None else {}

    def ensure_namespace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The Namespace if it exists (left untouched), else created by a server-side apply.

        Reading a Namespace is itself cluster-scoped: when it is refused (403), the apply is tried, and a 403
        on that too means "it exists, not ours" (an instructor made it); a namespace that really is missing
        shows up at the next namespaced call, with a message that says so."""
        name = obj["metadata"]["name"]
        try:
            return self.core.read_namespace(name).to_dict()
        except self._exception as exc:
            if exc.status not in (403, 404):
                raise api_error(f"read namespace {name}", exc, None) from None
        resource = self.dynamic.resources.get(api_version="v1", kind="Namespace")
        try:
            result = resource.server_side_apply(body=obj, field_manager=FIELD_MANAGER, force_conflicts=True)
        except self._exception as exc:
            if exc.status == 403:
                return {}  # exists, not ours: a learner's namespace made by the instructor
            raise api_error(f"create namespace {name}", exc, None) from None
        return result.to_dict() if result is not None else {}

    def missing_rights(self, namespace: str, rights: dict[str, set[str]] | None = None) -> list[tuple[str, str]]:
        """The (verb, resource) pairs of ``rights`` (default: learner_rights()) this account lacks in
        ``namespace``, asked with SelfSubjectAccessReviews (every signed-in user may ask)."""
        from kubernetes import client

        authz = client.AuthorizationV1Api(self.core.api_client)
        missing = []
        for resource, verbs in sorted((rights or learner_rights()).items()):
            group, plural, sub = split_resource(resource)
            for verb in sorted(verbs):
                review = client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(
                        resource_attributes=client.V1ResourceAttributes(
                            namespace=namespace, verb=verb, group=group, resource=plural, subresource=sub or None
                        )
                    )
                )
                answer = self._call(
                    "ask the API server what this account may do", authz.create_self_subject_access_review, review
                )
                if answer is not None and not answer.status.allowed:
                    missing.append((verb, resource))
        return missing

    def get_rayservice(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_custom(RAYSERVICE, "RayService", namespace, name)

    def get_raycluster(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get_custom(RAYCLUSTER, "RayCluster", namespace, name)

    def _get_custom(self, resource: tuple[str, str, str], kind: str, namespace: str, name: str) -> dict | None:
        group, version, plural = resource
        return self._call(
            f"get {kind} {name}",
            self.custom.get_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
            right=("get", f"{plural}.{group}", namespace),
        )

    def delete_rayservice(self, namespace: str, name: str) -> None:
        group, version, plural = RAYSERVICE
        self._call(
            f"delete RayService {name}",
            self.custom.delete_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
            right=("delete", "rayservices.ray.io", namespace),
        )

    def crd_installed(self, name: str = "rayservices.ray.io") -> bool:
        """Is the CRD there? Read it; when reading CRDs (cluster-scoped) is refused, as for a learner with
        a Role in one namespace, ask API discovery instead (open to every signed-in user)."""
        try:
            return self.extensions.read_custom_resource_definition(name) is not None
        except self._exception as exc:
            if exc.status == 404:
                return False
            if exc.status != 403:
                raise api_error(f"read CRD {name}", exc, None) from None
        plural, _, group = name.partition(".")
        try:
            return any(r.name == plural for r in self.dynamic.resources.search(group=group))
        except Exception:  # noqa: BLE001 - discovery errors come in many types; the namespaced list decides
            return True

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        pods = self._call(
            "list pods",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=selector,
            right=("list", "pods", namespace),
        )
        return [p.to_dict() for p in pods.items] if pods else []

    def pods_behind(self, namespace: str, service: str) -> list[str]:
        """The pods Service ``service`` sends new connections to now, from its EndpointSlices."""
        slices = self._call(
            f"list the EndpointSlices of {service}",
            self.discovery.list_namespaced_endpoint_slice,
            namespace,
            label_selector=f"kubernetes.io/service-name={service}",
            right=("list", "endpointslices.discovery.k8s.io", namespace),
        )
        return ready_pods([s.to_dict() for s in slices.items] if slices else [])

    def delete_pod(self, namespace: str, name: str) -> None:
        self._call(
            f"delete pod {name}", self.core.delete_namespaced_pod, name, namespace, right=("delete", "pods", namespace)
        )

    def pod_log(self, namespace: str, name: str, container: str, previous: bool = False, tail: int = 15) -> str:
        """The last ``tail`` lines of a container's log (``previous``: of its last run, as ``kubectl logs -p``)."""
        try:
            return self.core.read_namespaced_pod_log(
                name, namespace, container=container, previous=previous, tail_lines=tail
            )
        except self._exception as exc:
            return f"(no log: {exc.reason})"

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data (still base64-encoded, as the API returns it), or None if there is none."""
        secret = self._call(
            f"read secret {name}",
            self.core.read_namespaced_secret,
            name,
            namespace,
            right=("get", "secrets", namespace),
        )
        return dict(secret.data or {}) if secret is not None else None

    def list_events(self, namespace: str) -> list[dict[str, Any]]:
        events = self._call(
            "list events", self.core.list_namespaced_event, namespace, right=("list", "events", namespace)
        )
        return [e.to_dict() for e in events.items] if events else []

    def deployment_available(self, namespace: str, name: str) -> bool:
        deployment = self._call(f"read deployment {name}", self.apps.read_namespaced_deployment, name, namespace)
        if deployment is None:
            return False
        conditions = deployment.status.conditions or []
        return any(c.type == "Available" and c.status == "True" for c in conditions)

    def delete_namespace(self, name: str) -> None:
        self._call(f"delete namespace {name}", self.core.delete_namespace, name)

    def delete_configmap(self, namespace: str, name: str) -> None:
        self._call(
            f"delete configmap {name}",
            self.core.delete_namespaced_config_map,
            name,
            namespace,
            right=("delete", "configmaps", namespace),
        )

    # -- GCS fault tolerance: the namespace's Redis (manifests/redis/) ----------------------------------------

    def create_secret(self, namespace: str, name: str, data: dict[str, str], labels: dict[str, str]) -> bool:
        """Create the Secret ``name`` with ``data`` (plain strings, sent as stringData) unless it exists.

        True if it was created, False if one was there already (it is left as it is: what runs uses it)."""
        from kubernetes import client

        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
            string_data=data,
            type="Opaque",
        )
        try:
            self.core.create_namespaced_secret(namespace, body, field_manager=FIELD_MANAGER)
        except self._exception as exc:
            if exc.status == 409:  # AlreadyExists
                return False
            # Never exc.body here: it could echo the object sent. The status and reason say enough.
            if exc.status == 403:
                raise ForbiddenError(
                    f"Kubernetes API: create secret {name} was refused (403): "
                    + missing_right("create", "secrets", namespace)
                ) from None
            raise BackendError(f"Kubernetes API: create secret {name} failed ({exc.status} {exc.reason})") from None
        return True

    def deployment_status(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Deployment's generation and replica counts, or None if there is none."""
        deployment = self._call(
            f"read deployment {name}",
            self.apps.read_namespaced_deployment,
            name,
            namespace,
            right=("get", "deployments.apps", namespace),
        )
        if deployment is None:
            return None
        status = deployment.status
        return {
            "generation": deployment.metadata.generation or 0,
            "observed_generation": status.observed_generation or 0,
            "replicas": deployment.spec.replicas or 0,
            "ready_replicas": status.ready_replicas or 0,
            "updated_replicas": status.updated_replicas or 0,
        }

    def delete_deployment(self, namespace: str, name: str) -> None:
        self._call(
            f"delete deployment {name}",
            self.apps.delete_namespaced_deployment,
            name,
            namespace,
            right=("delete", "deployments.apps", namespace),
        )

    def delete_kube_service(self, namespace: str, name: str) -> None:
        """Delete a Kubernetes Service (not a RayService: delete_rayservice)."""
        self._call(
            f"delete service {name}",
            self.core.delete_namespaced_service,
            name,
            namespace,
            right=("delete", "services", namespace),
        )

    def delete_secret(self, namespace: str, name: str) -> None:
        self._call(
            f"delete secret {name}",
            self.core.delete_namespaced_secret,
            name,
            namespace,
            right=("delete", "secrets", namespace),
        )


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


def pod_ready(pod: dict[str, Any]) -> bool:
    """A pod (the client's to_dict() shape) that is not being deleted and whose Ready condition is True."""
    if (pod.get("metadata") or {}).get("deletion_timestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def terminating(pod: dict[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletion_timestamp"))
