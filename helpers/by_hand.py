"""The setup a learner types on a fresh cluster before lesson 02's `kubectl apply` works, per backend.

What the backends do for you at ``backend.up()``, as commands to type from the repository root: the cluster and
the KubeRay operator (kind: Helm's chart, pinned; host: `make host-build` and `make host-env`, and the operator
built from KubeRay's source instead of Helm), then on any cluster the namespace, the ConfigMap of application
code every manifest mounts, and (from lesson 04's GCS fault tolerance on) Redis with its password in a Secret.
Lesson 01 prints them; lab 05's solution (labs/solutions/lab05.sh) types the namespace and ConfigMap steps.
"""

from __future__ import annotations

import shlex

from helpers import config
from helpers.backends.kube import APP_CODE_CONFIGMAP
from helpers.backends.kube_redis import REDIS_SECRET, REDIS_SECRET_KEY

KIND_CONFIG = "manifests/kind-config.yaml"
MANIFEST = "manifests/ray-service.yaml"


def kind_create(cluster: str = config.KIND_CLUSTER, kind_config: str = KIND_CONFIG) -> list[str]:
    return [
        "kind", "create", "cluster", "--name", cluster, "--config", kind_config,
        "--image", config.KIND_NODE_IMAGE, "--wait", "180s",
    ]  # fmt: skip


def helm_repo() -> list[str]:
    return ["helm", "repo", "add", "kuberay", config.KUBERAY_HELM_REPO, "--force-update"]


def helm_install(context: str | None = None) -> list[str]:
    where = ["--kube-context", context] if context else []
    return [
        "helm", *where, "upgrade", "--install", "kuberay-operator", config.KUBERAY_CHART,
        "--version", config.KUBERAY_VERSION, "--namespace", config.OPERATOR_NAMESPACE, "--create-namespace",
    ]  # fmt: skip


def any_cluster(namespace: str) -> list[tuple[str, list[str] | str]]:
    """(what, command) of the steps every cluster needs; a str is a shell line (it has a $(...))."""
    secret = (
        f"kubectl -n {shlex.quote(namespace)} create secret generic {REDIS_SECRET} "
        f'--from-literal={REDIS_SECRET_KEY}="$(openssl rand -hex 24)"'
    )
    return [
        ("the namespace", ["kubectl", "create", "namespace", namespace]),
        (
            "the application code every manifest mounts (manifests/apps/)",
            ["kubectl", "-n", namespace, "create", "configmap", APP_CODE_CONFIGMAP, "--from-file=manifests/apps/"],
        ),
        ("lesson 04's GCS fault tolerance only: Redis's password", secret),
        ("... and Redis", ["kubectl", "-n", namespace, "apply", "-f", "manifests/redis/redis.yaml"]),
        ("now lesson 02's apply works", ["kubectl", "-n", namespace, "apply", "--server-side", "-f", MANIFEST]),
    ]


def setup(backend: str, namespace: str) -> str:
    """The commands for ``backend`` ("local" shows kind's and host's), each under a comment saying what it is for."""
    lines: list[str] = []
    if backend in ("kind", "local"):
        lines += ["# kind: the cluster, then KubeRay with its Helm chart (pinned)"]
        lines += [shlex.join(c) for c in (kind_create(), helm_repo(), helm_install())]
    if backend in ("host", "local"):
        lines += [
            "# host: Kubernetes and KubeRay built from source (once, cached), and kubectl pointed at the cluster;",
            "# the backend starts the cluster and applies manifests/host/ (CoreDNS, the operator) instead of Helm",
            "make host-build",
            'eval "$(make -s host-env)"',
        ]
    if backend == "kubernetes":
        lines += [f"# your cluster: KubeRay {config.KUBERAY_VERSION} installed (e.g. with Helm, as for kind)"]
    for what, command in any_cluster(namespace):
        lines += [f"# {what}", command if isinstance(command, str) else shlex.join(command)]
    return "\n".join(lines)
