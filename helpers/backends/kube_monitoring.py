"""Lesson 06 on Kubernetes (optional): kube-prometheus-stack with Helm, PodMonitors for every Ray pod, and Ray's
Grafana dashboards shipped to Grafana's sidecar as ConfigMaps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from helpers import config, procs
from helpers.backends import forward
from helpers.errors import BackendError

CONFIGMAP_LIMIT = 1024 * 1024  # bytes: Kubernetes refuses a bigger object (etcd's limit)


def install(backend) -> dict[str, str]:
    """kube-prometheus-stack, PodMonitors for every Ray pod, and Ray's Grafana dashboards.

    Returns the local URLs of Prometheus and Grafana (port-forwards on 127.0.0.1).
    """
    import tempfile

    import yaml

    ns = config.MONITORING_NAMESPACE
    helm = ["helm", *(["--kube-context", backend.context] if backend.context else [])]
    values = config.MANIFESTS_DIR / "monitoring" / "values.yaml"
    backend.commands.run(
        ["helm", "repo", "add", "prometheus-community", config.PROMETHEUS_STACK_REPO, "--force-update"]
    )
    backend.commands.run(
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
        monitor["spec"]["namespaceSelector"]["matchNames"] = [backend.namespace]
        backend.kube.apply(monitor)
    # Ray writes its Grafana dashboards into the head pod; ship them to Grafana's sidecar.
    (head,) = backend.ray_pods("head")
    with tempfile.TemporaryDirectory() as tmp:
        source = f"{head['metadata']['name']}:/tmp/ray/session_latest/metrics/grafana/dashboards"
        backend.commands.run(list(backend.kubectl.cp(source, tmp).args))
        dashboards = {p.name: p.read_text() for p in sorted(Path(tmp).glob("*.json"))}
    for configmap in dashboard_configmaps(dashboards, ns):
        backend.kube.apply(configmap)
    urls = {}
    for label, service, local, remote in (
        ("grafana", "prometheus-grafana", backend.ports.grafana, 80),
        ("prometheus", "prometheus-kube-prometheus-prometheus", backend.ports.prometheus, 9090),
    ):
        args = forward.command(sys.executable, service, local, remote, ns, backend.context, backend.pod_network)
        env = {**os.environ, procs.MARKER_VAR: backend.marker}
        backend.commands.start(args, env, backend.log_dir / f"port-forward-{label}.log")
        urls[label] = f"http://{config.LOOPBACK}:{local}"
    return urls


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
