"""Pinned versions, names and ports: the one place they are written down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Versions. RAY_VERSION is both the pip pin (pyproject.toml) and the rayproject/ray image tag.
RAY_VERSION = "2.55.1"
RAY_IMAGE = f"rayproject/ray:{RAY_VERSION}"
KUBERAY_VERSION = "1.7.0"
KUBERAY_HELM_REPO = "https://ray-project.github.io/kuberay-helm/"
KUBERAY_CHART = "kuberay/kuberay-operator"
KUBERAY_OPERATOR_IMAGE = f"quay.io/kuberay/operator:v{KUBERAY_VERSION}"
OPERATOR_NAMESPACE = "kuberay-system"
OPERATOR_DEPLOYMENT = "kuberay-operator"  # the chart's fullnameOverride
KIND_CLUSTER = "rayservice-tutorial"
PROMETHEUS_STACK_REPO = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_STACK_CHART = "prometheus-community/kube-prometheus-stack"
PROMETHEUS_STACK_VERSION = "80.4.1"
MONITORING_NAMESPACE = "prometheus-system"
KIND_NODE_IMAGE = "kindest/node:v1.34.0"  # the default node image of kind v0.30.0 (v0.31.0 moved to 1.35)
# The tools the kind-e2e workflow installs, pinned together: kind whose default node image is the one above,
# kubectl within one minor version of that node's Kubernetes (kubectl's supported skew), Helm 3.
KIND_VERSION = "v0.30.0"
KUBECTL_VERSION = "v1.34.4"
HELM_VERSION = "v3.17.3"

# The host backend: a real single-node Kubernetes built on this machine from the upstream Go modules, one module
# per project under host/ (its go.mod pins the same version: tests/unit/test_host_build.py keeps them equal).
# Kubernetes 1.34: the last minor that runs on cgroup v1 without `failCgroupV1: false`, and kind v0.30.0's node.
HOST_VERSIONS = {
    "kubernetes": "v1.34.4",
    "etcd": "v3.6.5",  # the etcd of Kubernetes 1.34 (its build/dependencies.yaml)
    "containerd": "v2.1.9",  # containerd and runc keep cgroup v1 (deprecated, maintained until 2029)
    "runc": "v1.3.7",
    "cni-plugins": "v1.7.1",  # the CNI plugins of Kubernetes 1.34
    "cri-tools": "v1.34.0",
    "coredns": "v1.12.1",  # the CoreDNS of Kubernetes 1.34 (kubeadm's CoreDNSVersion)
    # The operator's module at v1.7.0 is refused by the Go module proxy ("This module version is not available",
    # 403; asked again on 2026-12-06: its go.mod is served, its source zip still is not): the host backend runs
    # the newest v1.6.x, which has authOptions and EndpointSlices.
    "kuberay": "v1.6.1",
}
HOST_PREFIX = "rst"  # every process, network object and mount the host backend makes carries it


def host_cache() -> Path:
    """The host backend's build cache, outside the repository (override: RAYSERVICE_TUTORIAL_HOST_CACHE)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rayservice-tutorial" / "host"
    return Path(os.environ.get("RAYSERVICE_TUTORIAL_HOST_CACHE", default)).resolve()


# Where things live.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
MANIFESTS_DIR = PROJECT_ROOT / "manifests"
APPS_DIR = MANIFESTS_DIR / "apps"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
BUILD_DIR = PROJECT_ROOT / "build"
# `make lab`'s JupyterLab settings defaults (its app settings directory): overrides.json turns off the news pop-up.
LAB_SETTINGS_DIR = PROJECT_ROOT / ".jupyterlab"

LOOPBACK = "127.0.0.1"
BACKENDS = ("local", "kind", "kubernetes", "host")
DEFAULT_BACKEND = "local"
DEFAULT_NAMESPACE = "rayservice-tutorial"
# A whole workshop's backend and namespace, set once in the environment (`export TUTORIAL_BACKEND=host
# TUTORIAL_NAMESPACE=learner-07` before `make lab`): every parameters cell reads them, as do `make run`, `make down`,
# `make reset`, `make grade` and `python -m helpers`. An explicit BACKEND (papermill's, `make run BACKEND=...`) wins.
BACKEND_ENV = "TUTORIAL_BACKEND"
NAMESPACE_ENV = "TUTORIAL_NAMESPACE"


def workshop_backend() -> str:
    """$TUTORIAL_BACKEND, else the default backend."""
    return os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND


def workshop_namespace() -> str:
    """$TUTORIAL_NAMESPACE, else the tutorial's namespace."""
    return os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE


def state_dir() -> Path:
    """Where the local backend keeps its state file and logs (override: RAYSERVICE_TUTORIAL_STATE)."""
    return Path(os.environ.get("RAYSERVICE_TUTORIAL_STATE", PROJECT_ROOT / ".state")).resolve()


@dataclass(frozen=True)
class Ports:
    """Every fixed port the local backend opens, all on 127.0.0.1.

    Worker node i uses ``metrics + 1 + i`` and ``agent + 1 + i``. None is in Linux's ephemeral range
    (32768-60999: a port there can be taken at any moment as the local end of some outgoing connection,
    which is why the agent is not on Ray's default 52365) nor in Ray's own worker port range (10002-19999).
    """

    serve: int = 8000
    dashboard: int = 8265
    gcs: int = 6379
    metrics: int = 8080
    client: int = 10001
    agent: int = 23365
    redis: int = 6380  # only with GCS fault tolerance (a manifest with gcsFaultToleranceOptions): Redis
    grafana: int = 3000  # kind/kubernetes only: port-forward of Grafana (lesson 06, optional)
    prometheus: int = 9090  # kind/kubernetes only: port-forward of Prometheus

    def named(self, workers: int, redis: bool = False) -> dict[str, int]:
        """Every port a cluster with ``workers`` worker nodes needs, by a human name (``redis``: with GCS
        fault tolerance, which adds the Redis server)."""
        ports = {
            "Serve HTTP": self.serve,
            "Ray dashboard": self.dashboard,
            "Ray GCS": self.gcs,
            "metrics (head)": self.metrics,
            "Ray client": self.client,
            "dashboard agent (head)": self.agent,
        }
        for i in range(workers):
            ports[f"metrics (worker {i + 1})"] = self.metrics + 1 + i
            ports[f"dashboard agent (worker {i + 1})"] = self.agent + 1 + i
        if redis:
            ports["Redis (GCS fault tolerance)"] = self.redis
        return ports

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("serve", "dashboard", "gcs", "metrics", "client", "agent", "redis")}
