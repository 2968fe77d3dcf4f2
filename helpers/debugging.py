"""Lesson 08: a broken RayService, and the places a learner looks to find what broke.

Each fault is a small edit of the lesson's manifest (declared once in ``SERVE_FAULTS`` and ``POD_FAULTS``, with
the cause the lesson reveals). ``look()`` reads, in the order a learner would, what a client, the RayService,
Serve and the route table say; ``waiting()`` and ``warnings()`` read why the pods of a broken copy of the
RayService do not start (Kubernetes
only: the local backend has no pods, no images, no ConfigMaps and no Secrets, and says so).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from helpers.i18n import N_, _


@dataclass(frozen=True)
class Fault:
    """One seeded fault: ``edit`` makes it in a manifest; ``cause`` (a key of ``CAUSES``) is what it is."""

    name: str
    cause: str
    edit: Callable[[Any], Any]


def _route(manifest: Any) -> Any:
    from helpers import manifests

    return manifests.with_route_prefix(manifest, "hello", "/hi")


def _missing_file(manifest: Any) -> Any:
    from helpers import manifests

    return manifests.with_import_path(manifest, "hello", "greeter_app:app")


def _attribute(manifest: Any) -> Any:
    from helpers import manifests

    return manifests.with_import_path(manifest, "hello", "hello_app:ap")


def _gpu(manifest: Any) -> Any:
    from helpers import manifests

    current = {d["name"]: d for a in manifest.applications if a["name"] == "hello" for d in a.get("deployments", [])}
    options = {**(current["Hello"].get("ray_actor_options") or {}), "num_gpus": 1}
    return manifests.with_deployment_options(manifest, "hello", "Hello", ray_actor_options=options)


# The faults of Serve's config: an in-place update on every backend (the pods keep running).
SERVE_FAULTS = {
    f.name: f
    for f in (
        Fault("route", "route", _route),  # /hi, while the clients call /hello
        Fault("missing_file", "import", _missing_file),  # no greeter_app.py in the code
        Fault("attribute", "import", _attribute),  # hello_app has no `ap`
        Fault("gpu", "resources", _gpu),  # no Ray node has a GPU
    )
}

# The lesson's Secret for the Secret-key fault (a random value made on the cluster, never stored).
API_KEY_SECRET = "hello-api-key"
API_KEY_KEY = "api-key"
# A name that resolves nowhere (.invalid is reserved for that): the node cannot pull from it.
UNREACHABLE_IMAGE = "registry.invalid/rayproject/ray:2.55.1"
MISSPELT_CONFIGMAP = "rayservice-tutorial-app"


def _templates(raw: dict[str, Any]):
    """The pod templates of a RayService's head and worker groups."""
    cluster = raw["spec"]["rayClusterConfig"]
    for group in [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]:
        yield group["template"]


def _pod_specs(raw: dict[str, Any]):
    return (template["spec"] for template in _templates(raw))


def _image(raw: dict[str, Any]) -> None:
    for pod in _pod_specs(raw):
        pod["containers"][0]["image"] = UNREACHABLE_IMAGE


def _configmap(raw: dict[str, Any]) -> None:
    for pod in _pod_specs(raw):
        for volume in pod.get("volumes") or []:
            if "configMap" in volume:
                volume["configMap"]["name"] = MISSPELT_CONFIGMAP


def _secret_key(raw: dict[str, Any]) -> None:
    for pod in _pod_specs(raw):
        ref = {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_KEY.replace("-", "_")}}  # one per container
        container = pod["containers"][0]
        container["env"] = [*(container.get("env") or []), {"name": "API_KEY", "valueFrom": ref}]


def _pod_fault(change: Callable[[dict[str, Any]], None]) -> Callable[[Any], Any]:
    def edit(manifest: Any) -> Any:
        from helpers import manifests

        raw = copy.deepcopy(manifest.raw)
        change(raw)
        return manifests.edited(manifest, raw)

    return edit


# The faults of the pods (rayClusterConfig): Kubernetes only. KubeRay's pods never start, so no Ray runs.
POD_FAULTS = {
    f.name: f
    for f in (
        Fault("configmap", "volume", _pod_fault(_configmap)),  # the ConfigMap's name misspelt
        Fault("image", "image", _pod_fault(_image)),  # a registry the node cannot reach
        Fault("secret_key", "secret", _pod_fault(_secret_key)),  # api_key, while the Secret's key is api-key
    )
}
# The reason the head's Ray container waits with, once the kubelet has met each cause.
HEAD_WAITS = {
    "volume": {"ContainerCreating"},
    "image": {"ErrImagePull", "ImagePullBackOff"},
    "secret": {"CreateContainerConfigError"},
}


def broken(manifest: Any, fault: str) -> Any:
    """``manifest`` with ``fault`` seeded (a name of ``SERVE_FAULTS`` or ``POD_FAULTS``)."""
    faults = {**SERVE_FAULTS, **POD_FAULTS}
    if fault not in faults:
        raise ValueError(f"fault {fault!r} is not one of the lesson's: write one of {', '.join(faults)}.")
    return faults[fault].edit(manifest)


# -- looking ----------------------------------------------------------------------------------------------------


@dataclass
class Look:
    """What each place a learner looks says, in the order they look."""

    path: str
    client: str  # "HTTP 200", or why no answer came
    ready: str  # the RayService's Ready condition
    app: str  # Serve's status of the application
    app_message: str
    deployments: list[tuple[str, str, str]]  # (name, status with replica states, message)
    routes: dict[str, str]  # route prefix -> application

    @property
    def lines(self) -> list[tuple[str, str]]:
        lines = [
            (_("client: GET {path}", path=self.path), self.client),
            (_("RayService"), self.ready),
            (_("Serve: application"), self.app),
        ]
        lines += [("", self.app_message)] if self.app_message else []
        for name, status, message in self.deployments:
            lines.append((_("Serve: deployment {name}", name=name), status))
            lines += [("", message)] if message else []
        shown = ", ".join(f"{prefix} -> {name}" for prefix, name in sorted(self.routes.items()))
        return [*lines, (_("Serve: route table"), shown or _("(empty)"))]

    def table(self) -> str:
        width = max(len(place) for place, _said in self.lines)
        return "\n".join(f"{place:<{width}}  {said}" for place, said in self.lines)

    def __str__(self) -> str:
        return self.table()


def _client(backend: Any, path: str) -> str:
    try:
        response = requests.get(backend.serve_url + path, timeout=10)
    except requests.RequestException as exc:
        return _("no answer ({error})", error=type(exc).__name__)
    return f"HTTP {response.status_code}"


def _ready(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return f"Ready={condition.get('status')} ({condition.get('reason')})"
    return "Ready=?"


def last_line(message: str) -> str:
    """The line of a Serve message that names the error: a traceback's last line, else its first sentence."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) > 1:
        return lines[-1]
    return lines[0].split(". ")[0].rstrip(".") + "."


def look(backend: Any, app: str = "hello", path: str = "/hello") -> Look:
    """The client, the RayService's status, Serve's application and deployments, and the route table."""
    details = backend.serve_details()
    apps = details.get("applications") or {}
    serve_app = apps.get(app) or {}
    deployments = []
    for name, deployment in (serve_app.get("deployments") or {}).items():
        states: dict[str, int] = {}
        for replica in deployment.get("replicas") or []:
            states[replica.get("state", "?")] = states.get(replica.get("state", "?"), 0) + 1
        counts = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
        deployments.append((name, f"{deployment.get('status', '?')} ({counts})", last_line(deployment.get("message"))))
    return Look(
        path=path,
        client=_client(backend, path),
        ready=_ready(backend.status()),
        app=f"{app} {serve_app.get('status', _('not deployed'))}",
        app_message=last_line(serve_app.get("message")),
        deployments=deployments,
        routes={a["route_prefix"]: n for n, a in apps.items() if a.get("route_prefix")},  # none while not deployed
    )


def scheduling_message(backend: Any, app: str = "hello", deployment: str = "Hello") -> str:
    """Serve's message of ``deployment`` (empty until it has something to say)."""
    details = backend.serve_details()
    dep = ((details.get("applications") or {}).get(app) or {}).get("deployments", {}).get(deployment) or {}
    return dep.get("message") or ""


def wait_for_serve_message(backend: Any, timeout: float = 90, app: str = "hello", deployment: str = "Hello") -> str:
    """Wait until Serve explains why a replica has not started (it does after 30 s), and return its message."""
    from helpers import progress

    def said() -> tuple[bool, str]:
        message = scheduling_message(backend, app, deployment)
        return bool(message), last_line(message) or _("no message yet")

    progress.wait_for(_("Serve to say why a replica of {deployment} waits", deployment=deployment), said, timeout)
    return scheduling_message(backend, app, deployment)


# -- the pods' faults (Kubernetes only): a broken copy of the RayService beside the lesson's ---------------------

COPY_NAME = "ray-serve-app-broken"
COPY_LABEL = ("copy", "broken")  # on the copy's pods: `kubectl get pods -l copy=broken`
COPY_SELECTOR = "=".join(COPY_LABEL)
COPY_HEAD = COPY_SELECTOR + ",ray.io/node-type=head"  # the copy's head pod


def broken_copy(manifest: Any) -> Any:
    """``manifest`` as a second RayService, ``COPY_NAME``, whose pods carry ``COPY_LABEL``: the faults of the pods
    go into this copy, so the lesson's RayService keeps serving beside it (its pods never start: they use no CPU,
    only the requests the scheduler books for them)."""
    from helpers import manifests

    raw = copy.deepcopy(manifest.raw)
    raw["metadata"]["name"] = COPY_NAME
    for pod in _templates(raw):
        pod.setdefault("metadata", {}).setdefault("labels", {})[COPY_LABEL[0]] = COPY_LABEL[1]
    return manifests.edited(manifest, raw)


def ensure_api_key_secret(backend: Any) -> bool:
    """The Secret the Secret-key fault reads (key ``API_KEY_KEY``, a random value); True if it was made now."""
    import secrets

    return backend.kube.create_secret(
        backend.namespace, API_KEY_SECRET, {API_KEY_KEY: secrets.token_hex(16)},
        {"app.kubernetes.io/part-of": "rayservice-tutorial"},
    )  # fmt: skip


def seed(backend: Any, manifest: Any) -> None:
    """Apply the broken copy (server-side apply, as ``kubectl apply --server-side``), leaving the lesson's
    RayService and the backend's state as they are."""
    if manifest.name != COPY_NAME:
        raise ValueError(f"seed() applies the broken copy only: build it with broken_copy(), not {manifest.name!r}.")
    obj = copy.deepcopy(manifest.raw)
    obj["metadata"]["namespace"] = backend.namespace
    backend.kube.apply(obj)
    print(_("Applied {name}: the lesson's RayService keeps serving beside it.", name=COPY_NAME))


def remove(backend: Any, timeout: float = 120) -> float:
    """Delete the broken copy (if any) and wait until its pods are gone; the seconds it took."""
    from helpers import progress

    if backend.kube.get_rayservice(backend.namespace, COPY_NAME) is not None:
        backend.kube.delete_rayservice(backend.namespace, COPY_NAME)

    def gone() -> tuple[bool, str]:
        left = backend.kube.list_pods(backend.namespace, COPY_SELECTOR)
        service = backend.kube.get_rayservice(backend.namespace, COPY_NAME)
        return not left and service is None, _("{count} pod(s) left", count=len(left))

    return progress.wait_for(_("RayService {name} to be gone", name=COPY_NAME), gone, timeout)


def cleanup(backend: Any) -> None:
    """Remove the broken copy and the lesson's Secret (what Step 4 made)."""
    remove(backend)
    backend.kube.delete_secret(backend.namespace, API_KEY_SECRET)
    print(_("Deleted RayService {name} and Secret {secret}.", name=COPY_NAME, secret=API_KEY_SECRET))


@dataclass(frozen=True)
class Waiting:
    """A container of the copy's pods that has not started, and why (the kubelet's reason and message)."""

    node_type: str  # head or worker
    container: str
    reason: str
    message: str


def waiting(backend: Any) -> list[Waiting]:
    """Every container (init containers first) of the copy's pods that waits, as ``kubectl get pods`` shows it."""
    found = []
    for pod in backend.kube.list_pods(backend.namespace, COPY_SELECTOR):
        node_type = ((pod.get("metadata") or {}).get("labels") or {}).get("ray.io/node-type", "?")
        status = pod.get("status") or {}
        for state in (status.get("init_container_statuses") or []) + (status.get("container_statuses") or []):
            wait = (state.get("state") or {}).get("waiting")
            if wait:
                found.append(Waiting(node_type, state.get("name", "?"), wait.get("reason") or "",
                                     wait.get("message") or ""))  # fmt: skip
    return sorted(found, key=lambda w: (w.node_type, w.container))


def warnings(backend: Any) -> list[tuple[str, str]]:
    """(reason, message) of the Warning events on the copy's pods now, newest first, each once."""
    from helpers.backends.kubeapi import newest_first

    pods = {p["metadata"]["name"] for p in backend.kube.list_pods(backend.namespace, COPY_SELECTOR)}
    seen, found = set(), []
    for event in newest_first(backend.kube.list_events(backend.namespace)):
        involved = event.get("involved_object") or {}
        if event.get("type") != "Warning" or involved.get("name") not in pods:
            continue
        key = (event.get("reason") or "", event.get("message") or "")
        if key not in seen:
            seen.add(key)
            found.append(key)
    return found


# The fixed list of causes the lesson (and lab 07) names, and the signs that point to each.
CAUSES = {
    "route": N_("the route prefix is not the path the clients call"),
    "import": N_("Serve cannot import the application (import_path, or its file)"),
    "resources": N_("a replica asks for resources no Ray node has"),
    "volume": N_("a volume the pods mount does not exist (the app-code ConfigMap)"),
    "image": N_("the node cannot pull the image"),
    "secret": N_("a Secret, or a key in it, that the containers read does not exist"),
}


def no_pods() -> str:
    """What a pod fault's verdict says on the local backend, which has no pods."""
    return _("(the local backend has no pods: the signs are the host cluster's recorded output above)")


def verdict(cause: str | None) -> str:
    """One line: the cause the signs point to, in the learner's language."""
    if cause is None:
        return _("the signs point to no cause of the lesson's list")
    return _("the signs point to: {cause}", cause=_(CAUSES[cause]))


def diagnose_serve(seen: Look) -> str | None:
    """The cause (a key of ``CAUSES``) the signs of ``look()`` point to, or None if they point to none."""
    messages = " ".join([seen.app_message, *(m for _n, _s, m in seen.deployments)])
    if any(sign in messages for sign in ("No module named", "has no attribute", "ImportError")):
        return "import"
    if "to be scheduled" in messages:
        return "resources"
    if seen.client == "HTTP 404" and seen.app.endswith("RUNNING") and seen.path not in seen.routes:
        return "route"
    return None


def diagnose_pods(waits: list[Waiting], events: list[tuple[str, str]]) -> str | None:
    """The cause (a key of ``CAUSES``) the copy's waiting containers and Warning events point to."""
    reasons = {w.reason for w in waits}
    if reasons & {"ErrImagePull", "ImagePullBackOff"}:
        return "image"
    if "CreateContainerConfigError" in reasons and any("Secret" in w.message for w in waits):
        return "secret"
    if any(reason == "FailedMount" for reason, _m in events):
        return "volume"
    return None


def wait_for_signs(backend: Any, timeout: float = 90) -> str:
    """Wait until the copy's pods show why they do not start, the head's Ray container included (the worker's
    init container often shows it first); the cause they point to."""
    from helpers import progress

    found: dict[str, str] = {}

    def shown() -> tuple[bool, str]:
        waits = waiting(backend)
        cause = diagnose_pods(waits, warnings(backend))
        head = {w.reason for w in waits if w.node_type == "head" and not w.container.startswith("wait-")}
        found["cause"] = cause or ""
        return bool(cause and head & HEAD_WAITS[cause]), ", ".join(sorted({w.reason for w in waits})) or _("no pod yet")

    progress.wait_for(_("the pods of {name} to show why they wait", name=COPY_NAME), shown, timeout)
    return found["cause"]


def signs_table(backend: Any) -> str:
    """The copy's waiting containers and its pods' Warning events, as ``kubectl get pods`` and ``describe``."""
    rows = [f"{w.node_type:<7} {w.container:<15} {w.reason}: {w.message}".rstrip(": ") for w in waiting(backend)]
    rows += [f"event   {reason}: {message}" for reason, message in warnings(backend)]
    return "\n".join(rows) or _("(no pod of {name})", name=COPY_NAME)
