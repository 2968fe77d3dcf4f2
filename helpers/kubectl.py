"""The kubectl commands a learner types, built in one place.

Every "On Kubernetes" cell of the lessons shows a command from here, and the kind/kubernetes backends
run exactly that command (the same ``Command`` object), so what a lesson shows and what the backend
does cannot drift apart. The local backend has no Kubernetes: it shows the command and says in one
line what it does instead (``Command.local``), never an invented output.

    kubectl = Kubectl("rayservice-tutorial")
    kubectl.wait_ready("ray-serve-app", timeout=300).text
    # 'kubectl wait rayservice/ray-serve-app --for=condition=Ready --timeout=300s -n rayservice-tutorial'
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from helpers import config

# KubeRay's names for what it creates from a RayService called <name>.
HEAD_NODE_LABEL = "ray.io/node-type=head"
WORKER_NODE_LABEL = "ray.io/node-type=worker"


def head_service(name: str) -> str:
    """The head Service: dashboard 8265, GCS 6379, client 10001, metrics 8080, serve 8000."""
    return f"{name}-head-svc"


def serve_service(name: str) -> str:
    """The serve Service: port 8000, backed only by pods whose proxy can serve (label ray.io/serve=true)."""
    return f"{name}-serve-svc"


def ray_pod_selector(cluster: str, node_type: str | None = None) -> str:
    """KubeRay's pod labels: ray.io/cluster=<RayCluster>, ray.io/node-type=head|worker."""
    selector = f"ray.io/cluster={cluster}"
    return selector + (f",ray.io/node-type={node_type}" if node_type else "")


@dataclass(frozen=True)
class Command:
    """One kubectl command: its arguments, and what the local backend does in its place."""

    args: tuple[str, ...]
    local: str  # one line: what the local backend does instead (it has no Kubernetes)
    long_running: bool = False  # a port-forward: started in the background, never waited for

    @property
    def text(self) -> str:
        return shlex.join(self.args)

    def __str__(self) -> str:
        return self.text


class Kubectl:
    """Builds kubectl commands for one namespace (and, optionally, one kubeconfig context)."""

    def __init__(self, namespace: str, context: str | None = None):
        self.namespace = namespace
        self.context = context

    def _cmd(self, *args: str, local: str, long_running: bool = False, namespaced: bool = True) -> Command:
        context = ("--context", self.context) if self.context else ()
        namespace = ("-n", self.namespace) if namespaced else ()
        return Command(("kubectl", *context, *args, *namespace), local, long_running)

    # -- the RayService ----------------------------------------------------------------------

    def apply(self, path: str) -> Command:
        return self._cmd(
            "apply",
            "--server-side",
            "-f",
            path,
            local="the local backend sends spec.serveConfigV2 to the Ray dashboard itself "
            "(PUT /api/serve/applications/), as the operator does",
        )

    def diff(self, path: str) -> Command:
        """What ``apply(path)`` would change in the live objects (a server-side dry run; changes nothing).
        ``--force-conflicts``: fields another manager set (the tutorial's backend) are compared, not refused."""
        return self._cmd(
            "diff",
            "--server-side",
            "--force-conflicts",
            "-f",
            path,
            local="the local backend has no live object to compare with: manifests.diff() compares the "
            "manifest with the one applied before",
        )

    def dry_run(self, path: str) -> Command:
        """The API server's verdict on ``path`` (schema, defaults, admission), with nothing created or changed.
        ``--force-conflicts``: a RayService of the same name applied by another manager (the tutorial's backend) is
        validated against, not refused as a conflict."""
        return self._cmd(
            "apply",
            "--server-side",
            "--dry-run=server",
            "--force-conflicts",
            "-f",
            path,
            local="the local backend has no API server: the linter checks the manifest against KubeRay's CRD schema",
        )

    def get_rayservice(self, name: str, output: str | None = None) -> Command:
        extra = ("-o", output) if output else ()
        return self._cmd(
            "get",
            f"rayservice/{name}",
            *extra,
            local="the local backend builds the same status from Serve's REST API (GET /api/serve/applications/)",
        )

    def describe_rayservice(self, name: str) -> Command:
        return self._cmd(
            "describe",
            f"rayservice/{name}",
            local="the local backend has no RayService object: backend.status() is its status",
        )

    def _wait(self, name: str, condition: str, timeout: float, local: str) -> Command:
        return self._cmd("wait", f"rayservice/{name}", f"--for={condition}", f"--timeout={int(timeout)}s", local=local)

    def wait_ready(self, name: str, timeout: float = 300) -> Command:
        return self._wait(
            name,
            "condition=Ready",
            timeout,
            local="the local backend polls Serve's REST API every 2 s, as the operator does, "
            "until every application is RUNNING",
        )

    def get_rayclusters(self) -> Command:
        return self._cmd(
            "get",
            "rayclusters",
            local="the local backend runs one Ray cluster of local processes, no RayCluster object",
        )

    def get_pods(self, selector: str = "ray.io/is-ray-node=yes") -> Command:
        return self._cmd(
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "wide",
            local="the local backend's Ray nodes are processes on 127.0.0.1: backend.nodes_table() lists them",
        )

    def describe_pods(self, selector: str) -> Command:
        """The pods ``selector`` picks, described: their containers' states and, at the end, their events."""
        return self._cmd(
            "describe",
            "pods",
            "-l",
            selector,
            local="the local backend has no pods: its Ray nodes are processes, and backend.nodes_table() lists them",
        )

    def get_ray_pods(self) -> Command:
        """Every Ray pod, with KubeRay's labels as columns: its RayCluster, head or worker, its group."""
        return self._cmd(
            "get",
            "pods",
            "-l",
            "ray.io/is-ray-node=yes",
            "-L",
            "ray.io/cluster,ray.io/node-type,ray.io/group",
            local="the local backend's Ray nodes are processes on 127.0.0.1: backend.nodes_table() lists them, "
            "with the pod each one plays",
        )

    def get_services(self) -> Command:
        """Every Service of the namespace: the RayService's ``<name>-head-svc`` and ``<name>-serve-svc``, and the
        active RayCluster's own ``<cluster>-head-svc``, through which the operator talks to Ray."""
        return self._cmd(
            "get",
            "services",
            local="the local backend has no Services: its ports listen on 127.0.0.1 directly",
        )

    def get_created_for(self, name: str) -> Command:
        """The RayClusters and Services KubeRay made for the RayService ``name`` (its label
        ray.io/originated-from-cr-name): after ``delete_rayservice`` the answer is "No resources found"."""
        return self._cmd(
            "get",
            "rayclusters,services",
            "-l",
            f"ray.io/originated-from-cr-name={name}",
            local="the local backend has no RayCluster or Services: backend.leftovers() lists what is still running",
        )

    def port_forward(self, service: str, local_port: int, remote_port: int) -> Command:
        return self._cmd(
            "port-forward",
            "--address",
            config.LOOPBACK,
            f"svc/{service}",
            f"{local_port}:{remote_port}",
            local="the local backend needs no forward: Ray listens on 127.0.0.1 already",
            long_running=True,
        )

    def delete_pod(self, pod: str) -> Command:
        return self._cmd(
            "delete",
            "pod",
            pod,
            "--wait=false",
            local="the local backend stops the Ray node process that plays this pod",
        )

    def logs(self, pod: str, tail: int = 20, container: str | None = None) -> Command:
        extra = ("-c", container) if container else ()
        return self._cmd(
            "logs",
            pod,
            *extra,
            f"--tail={tail}",
            local="the local backend's Ray logs are files under its temp dir (backend.describe() names it)",
        )

    def logs_by_label(self, selector: str, tail: int = 20, container: str | None = None) -> Command:
        """The logs of the pods with these labels, e.g. ``ray.io/node-type=head`` for the head pod."""
        extra = ("-c", container) if container else ()
        return self._cmd(
            "logs",
            "-l",
            selector,
            *extra,
            f"--tail={tail}",
            "--prefix",
            local="the local backend's Ray logs are files under its temp dir (backend.describe() names it)",
        )

    def events(self, name: str) -> Command:
        return self._cmd(
            "events",
            "--for",
            f"rayservice/{name}",
            local="the local backend has no Kubernetes events: the wait's status line shows each change",
        )

    def raycluster_events(self) -> Command:
        """The events KubeRay records on the RayClusters (each pod it creates or deletes), whatever their names."""
        return self._cmd(
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=RayCluster",
            local="the local backend has no Kubernetes events: its worker nodes are processes it restarts itself",
        )

    # -- waiting for an update: Ready says only that the serve Service has an endpoint ----------------------

    def wait_app_running(self, name: str, app: str, timeout: float = 300) -> Command:
        """Until Serve (as KubeRay last read it) says ``app`` is RUNNING on the active cluster."""
        return self._wait(
            name,
            f"jsonpath={{.status.activeServiceStatus.applicationStatuses.{app}.status}}=RUNNING",
            timeout,
            local="the local backend's wait_ready() reads each application's status from Serve's REST API",
        )

    def wait_upgrade_done(self, name: str, timeout: float = 300) -> Command:
        """Until no new RayCluster is being prepared (a rayClusterConfig change has been switched to, or none)."""
        return self._wait(
            name,
            "condition=UpgradeInProgress=false",
            timeout,
            local="the local backend never builds a second cluster: there is no upgrade to wait for",
        )

    def update_state(self, name: str, apps: list[str]) -> Command:
        """One line: the spec's generation and the one KubeRay has acted on, Ready, UpgradeInProgress, each app."""
        fields = [
            "generation={.metadata.generation}",
            "observedGeneration={.status.observedGeneration}",
            'Ready={.status.conditions[?(@.type=="Ready")].status}',
            'UpgradeInProgress={.status.conditions[?(@.type=="UpgradeInProgress")].status}',
            *(f"{app}={{.status.activeServiceStatus.applicationStatuses.{app}.status}}" for app in apps),
        ]
        return self._cmd(
            "get",
            f"rayservice/{name}",
            "-o",
            "jsonpath=" + " ".join(fields),
            local="the local backend builds the same status from Serve's REST API (GET /api/serve/applications/)",
        )

    def exec(self, pod: str, *command: str) -> Command:
        """``kubectl exec -n NS <pod> -- <command>``: the namespace goes before ``--``, since kubectl hands
        everything after ``--`` to the command (``kill -9 321 -n NS`` would reach ``kill``)."""
        return self._cmd(
            "exec",
            "-n",
            self.namespace,
            pod,
            "--",
            *command,
            local="the local backend runs the same command on this machine, against the process it started",
            namespaced=False,
        )

    def in_head(self, name: str, *command: str) -> Command:
        """``command`` in the head pod of RayService ``name``, reached through its head Service
        (``kubectl exec svc/<name>-head-svc``: kubectl picks a pod the Service selects, so no pod name to look up)."""
        return self._cmd(
            "exec",
            "-n",
            self.namespace,
            f"svc/{head_service(name)}",
            "--",
            *command,
            local="the local backend runs the same command on this machine, where the head node's processes run",
            namespaced=False,
        )

    def cp(self, source: str, target: str) -> Command:
        return self._cmd("cp", source, target, local="the local backend reads the file directly")

    def delete_rayservice(self, name: str) -> Command:
        return self._cmd(
            "delete",
            f"rayservice/{name}",
            local="the local backend deletes every application (PUT of an empty config) and stops Ray",
        )

    def get_redis(self) -> Command:
        """The Redis of GCS fault tolerance (manifests/redis/) and the Secret with its password: by name,
        so no `list` right is needed (a `list secrets` right would let one read every Secret's data)."""
        return self._cmd(
            "get",
            "deployment/redis",
            "service/redis",
            "secret/redis-password",
            local="the local backend runs redis-server on 127.0.0.1 with its password in a 0600 file under .state/",
        )


def show_local(command: Command) -> str:
    """What the local backend prints for ``command``: the command, then what it does instead."""
    return f"$ {command.text}\n(local backend, no Kubernetes here: {command.local}.)"


__all__ = ["Command", "Kubectl", "head_service", "ray_pod_selector", "serve_service", "show_local"]
