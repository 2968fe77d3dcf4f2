"""Stand-ins for what cannot run here (Docker, kind, helm, a Kubernetes API server).

Each records what the backend would send, so tests can check the exact commands, names,
namespaces, selectors and objects. Port-forwards are stood in for by real local processes that
listen on the requested 127.0.0.1 port, so starting, reusing and stopping them is real.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from helpers import procs
from helpers.backends.commands import Result, ToolMissing
from helpers.errors import BackendError

LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); time.sleep(600)\n"
)


STARTED: list[int] = []  # every stand-in port-forward started in this test session (tests/conftest.py stops them)


class FakeCommands:
    def __init__(self, tools=("docker", "kind", "kubectl", "helm"), responses=None):
        self.tools = set(tools)
        self.responses = dict(responses or {})  # tuple prefix of args -> Result fields or callable
        self.calls: list[list[str]] = []
        self.started: list[list[str]] = []

    def which(self, tool: str) -> str | None:
        return f"/usr/local/bin/{tool}" if tool in self.tools else None

    def run(self, args, check=True, timeout=600, progress=None) -> Result:
        if args[0] not in self.tools:
            raise ToolMissing(args[0])
        self.calls.append(list(args))
        answer = (0, "", "")
        for prefix in sorted(self.responses, key=len, reverse=True):
            if tuple(args[: len(prefix)]) == prefix:
                answer = self.responses[prefix]
                answer = answer(args) if callable(answer) else answer
                break
        result = Result(list(args), *answer)
        if check and not result.ok:
            raise BackendError(f"`{' '.join(args)}` failed: {result.stderr}")
        return result

    def start(self, args, env, log: Path) -> int:
        """A port-forward: listen where `kubectl port-forward --address A L:R` would."""
        self.started.append(list(args))
        address = args[args.index("--address") + 1]
        local = next(a for a in args if a.count(":") == 1 and a.replace(":", "").isdigit()).split(":")[0]
        pid = procs.start_detached([sys.executable, "-c", LISTENER, address, local], env, log).pid
        STARTED.append(pid)
        return pid

    def commands_of(self, tool: str) -> list[list[str]]:
        return [c for c in self.calls if c[0] == tool]


class FakeKube:
    """Records every Kubernetes API call; answers from scripted state."""

    def __init__(self, crd=True):
        self.calls: list[tuple] = []
        self.crd = crd
        self.rayservices: list[dict] = []  # successive answers of get_rayservice (last one repeats)
        self.pods: dict[str, list[dict]] = {}  # label selector -> pods
        self.events: list[dict] = []
        self.operator_polls_until_available = 1
        self.secrets: dict = {}  # (namespace, name) -> data, base64-encoded as the API returns it
        self.deployments: dict = {}  # (namespace, name) -> polls of deployment_status left until it is ready
        self.deployment_polls_until_ready = 2
        # Service -> the pods it sends to; unscripted, one pod that no fault takes away
        self.behind: dict[str, list[str]] = {}

    def apply(self, obj):
        self.calls.append(("apply", copy.deepcopy(obj)))
        if obj["kind"] == "Deployment":
            self.deployments[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = (
                self.deployment_polls_until_ready
            )
        return obj

    def create_secret(self, namespace, name, data, labels):
        """Records the Secret sent (its data too: what the API server would receive)."""
        self.calls.append(("create_secret", namespace, name, dict(data), dict(labels)))
        if (namespace, name) in self.secrets:
            return False
        import base64

        self.secrets[(namespace, name)] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return True

    def deployment_status(self, namespace, name):
        self.calls.append(("deployment_status", namespace, name))
        if (namespace, name) not in self.deployments:
            return None
        left = self.deployments[(namespace, name)] = max(0, self.deployments[(namespace, name)] - 1)
        ready = 0 if left else 1
        return {
            "generation": 1,
            "observed_generation": 1,
            "replicas": 1,
            "ready_replicas": ready,
            "updated_replicas": 1,
        }

    def delete_deployment(self, namespace, name):
        self.calls.append(("delete_deployment", namespace, name))
        self.deployments.pop((namespace, name), None)

    def delete_kube_service(self, namespace, name):
        self.calls.append(("delete_kube_service", namespace, name))

    def delete_secret(self, namespace, name):
        self.calls.append(("delete_secret", namespace, name))
        self.secrets.pop((namespace, name), None)

    def missing_rights(self, namespace, rights=None):
        """The SelfSubjectAccessReviews of a learner with every right the tutorial needs."""
        self.calls.append(("missing_rights", namespace))
        return []

    def applied(self, kind: str) -> list[dict]:
        return [c[1] for c in self.calls if c[0] == "apply" and c[1]["kind"] == kind]

    def crd_installed(self, name="rayservices.ray.io"):
        self.calls.append(("crd_installed", name))
        return self.crd

    def get_rayservice(self, namespace, name):
        self.calls.append(("get_rayservice", namespace, name))
        if not self.rayservices:
            return None
        return copy.deepcopy(self.rayservices.pop(0) if len(self.rayservices) > 1 else self.rayservices[0])

    def get_raycluster(self, namespace, name):
        self.calls.append(("get_raycluster", namespace, name))
        return None  # deleted with its RayService (no GCS FT finalizer scripted here)

    def delete_rayservice(self, namespace, name):
        self.calls.append(("delete_rayservice", namespace, name))
        self.rayservices = [None]  # gone (KubeRay's finalizer has deleted the RayCluster and Services)

    def delete_configmap(self, namespace, name):
        self.calls.append(("delete_configmap", namespace, name))

    def list_pods(self, namespace, selector):
        self.calls.append(("list_pods", namespace, selector))
        return copy.deepcopy(self.pods.get(selector, []))

    def delete_pod(self, namespace, name):
        self.calls.append(("delete_pod", namespace, name))

    def pods_behind(self, namespace, service):
        self.calls.append(("pods_behind", namespace, service))
        return list(self.behind.get(service, ["a-pod-still-serving"]))

    def read_secret(self, namespace, name):
        self.calls.append(("read_secret", namespace, name))
        return self.secrets.get((namespace, name))

    def list_events(self, namespace):
        self.calls.append(("list_events", namespace))
        return copy.deepcopy(self.events)

    def deployment_available(self, namespace, name):
        self.calls.append(("deployment_available", namespace, name))
        self.operator_polls_until_available -= 1
        return self.operator_polls_until_available <= 0


def rayservice(
    name="ray-serve-app",
    generation=1,
    observed=1,
    ready=True,
    apps=None,
    active="ray-serve-app-abcde",
    pending=None,
    app_status="RUNNING",
    message="",
):
    """A RayService as KubeRay v1.7.0 reports it (field names from rayservice_types.go)."""
    apps = apps or ["hello"]
    statuses = {
        app: {
            "status": app_status,
            "message": message,
            "serveDeploymentStatuses": {"Hello": {"status": "HEALTHY", "message": ""}},
        }
        for app in apps
    }
    status = {
        "observedGeneration": observed,
        "numServeEndpoints": 2 if ready else 0,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "NonZeroServeEndpoints" if ready else "Initializing",
                "message": "",
                "lastTransitionTime": "2026-11-29T07:00:00Z",
            },
            {
                "type": "UpgradeInProgress",
                "status": "True" if pending else "False",
                "reason": "BothActivePendingClustersExist" if pending else "NoPendingCluster",
                "message": "",
                "lastTransitionTime": "2026-11-29T07:00:00Z",
            },
        ],
        "activeServiceStatus": {"rayClusterName": active, "applicationStatuses": statuses} if active else {},
        "pendingServiceStatus": {"rayClusterName": pending, "applicationStatuses": {}} if pending else {},
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": name, "namespace": "rayservice-tutorial", "generation": generation},
        "status": status,
    }


def pod(name, group, node_type, ip, phase="Running", waiting=None):
    return {
        "metadata": {"name": name, "labels": {"ray.io/group": group, "ray.io/node-type": node_type}},
        "status": {
            "phase": phase,
            "pod_ip": ip,
            "container_statuses": [{"state": {"waiting": {"reason": waiting}}}] if waiting else [],
            "conditions": [{"type": "Ready", "status": "True" if phase == "Running" and not waiting else "False"}],
        },
    }


def write_kubeconfig(folder: Path, server: str, context: str = "kind-rayservice-tutorial", user: str = "u") -> Path:
    """A kubeconfig in ``folder`` whose ``context`` reaches ``server`` (a recording API server, or a port no one
    answers at) with a bearer token: what the real ``kubernetes`` client reads in these tests."""
    import yaml

    path = Path(folder) / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": user}}],
        "users": [{"name": user, "user": {"token": "test"}}],
    }
    path.write_text(yaml.safe_dump(config))
    return path
