"""What the host cluster runs on top of Kubernetes: KubeRay's CRDs, CoreDNS and the KubeRay operator.

The CRDs and the operator's ClusterRole come from the operator's own Go module (``config/crd/bases``,
``config/rbac/role.yaml``), the version the operator binary is built from; the Deployments from ``manifests/host/``.
Everything is applied server-side (the CRDs are too large for a client-side apply's annotation).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import config
from helpers.errors import ClusterError
from helpers.host import build, components
from helpers.progress import wait_for

ADDONS = config.MANIFESTS_DIR / "host"
FIELD_MANAGER = "rayservice-tutorial-host"


def env() -> dict[str, str]:
    """The environment every kubectl of the host cluster runs with: its kubeconfig and the built kubectl first."""
    path = f"{build.BY_NAME['kubernetes'].bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return {**os.environ, "KUBECONFIG": str(components.kubeconfig("admin")), "PATH": path}


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess:
    cmd = [str(build.binary("kubectl")), *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env(), timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise ClusterError(f"`kubectl {' '.join(args)}` failed:\n{(done.stderr or done.stdout).strip()}")
    return done


def apply(path_or_text: Path | str) -> str:
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    return kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-", stdin=text
    ).stdout


def kuberay_module() -> Path:
    return build.go_module_dir("github.com/ray-project/kuberay/ray-operator", config.HOST_VERSIONS["kuberay"])


def install_crds() -> list[str]:
    """KubeRay's CRDs, then wait until the API server serves them."""
    files = sorted((kuberay_module() / "config" / "crd" / "bases").glob("*.yaml"))
    for f in files:
        apply(f)
    names = [f.stem.split("_", 1)[1] + "." + f.stem.split("_", 1)[0] for f in files]  # rayclusters.ray.io ...
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
    return names


def wait_node_ready(timeout: float = 120) -> float:
    def ready() -> tuple[bool, str]:
        out = kubectl(
            "get",
            "node",
            components.NODE,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            check=False,
        )
        status = out.stdout.strip() or "not registered"
        return status == "True", f"node {components.NODE} Ready={status}"

    return wait_for(f"node {components.NODE}", ready, timeout, interval=1.0)


def wait_available(namespace: str, deployment: str, timeout: float = 180) -> float:
    def available() -> tuple[bool, str]:
        out = kubectl(
            "-n",
            namespace,
            "get",
            "deployment",
            deployment,
            "-o",
            "jsonpath={.status.availableReplicas}/{.spec.replicas}",
            check=False,
        ).stdout.strip()
        have, _, want = out.partition("/")
        return bool(want) and have == want, f"{out or 'not created'} available"

    def why() -> str:
        return (
            kubectl("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
            + kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout[-1500:]
        )

    return wait_for(f"{namespace}/{deployment}", available, timeout, interval=1.0, on_timeout=why)


def install_coredns() -> float:
    apply(ADDONS / "coredns.yaml")
    return wait_available("kube-system", "coredns")


def install_operator() -> float:
    apply(kuberay_module() / "config" / "rbac" / "role.yaml")
    apply(ADDONS / "kuberay-operator.yaml")
    return wait_available(config.OPERATOR_NAMESPACE, config.OPERATOR_DEPLOYMENT)
