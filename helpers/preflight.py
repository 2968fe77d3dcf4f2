"""Preflight: is this machine ready for the chosen backend? Each check says how to fix it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata

from helpers import config


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but worth a look (shown with ⚠)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def local_checks() -> list[Check]:
    import psutil

    checks = [
        Check("Python >= 3.10", sys.version_info >= (3, 10), f"Python {sys.version.split()[0]}"),
    ]
    ray = _version("ray")
    checks.append(
        Check(
            f"Ray {config.RAY_VERSION}",
            ray == config.RAY_VERSION,
            f"installed {ray}" if ray else "not installed: run `make lab` (it installs everything)",
        )
    )
    proto = _version("protobuf") or "missing"
    checks.append(
        Check(
            "protobuf < 7 (Ray 2.55 fails every deploy with protobuf 7)",
            proto != "missing" and int(proto.split(".")[0]) < 7,
            f"installed {proto}; the lock file pins 6.33.6",
        )
    )
    gib = psutil.virtual_memory().available / 2**30
    checks.append(Check("memory available >= 4 GiB", gib >= 4, f"{gib:.1f} GiB available"))
    cpus = os.cpu_count() or 1
    checks.append(Check("CPU cores >= 2", cpus >= 2, f"{cpus} cores"))
    return checks


def _tool(commands, tool: str, version_args: list[str]) -> Check:
    from helpers.backends.commands import INSTALL_HINTS

    if not commands.which(tool):
        return Check(f"{tool} installed", False, f"not found: {INSTALL_HINTS[tool]}")
    result = commands.run([tool, *version_args], check=False, timeout=30)
    text = (result.stdout or result.stderr).strip().splitlines()
    return Check(f"{tool} installed", result.ok, text[0] if text else "(no version printed)")


def kubernetes_checks(commands, context: str | None = None) -> list[Check]:
    """An existing cluster: kubectl, and a current context that answers."""
    checks = [_tool(commands, "kubectl", ["version", "--client"])]
    if checks[0].ok:
        ctx = ["--context", context] if context else []
        result = commands.run(["kubectl", *ctx, "get", "--raw", "/version"], check=False, timeout=30)
        checks.append(
            Check(
                f"Kubernetes API reachable{f' (context {context})' if context else ''}",
                result.ok,
                "answers"
                if result.ok
                else (result.stderr.strip().splitlines() or ["no answer"])[-1]
                + " - check `kubectl config current-context`",
            )
        )
    return checks


def _gib(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if str(quantity).endswith(suffix):
            return float(str(quantity)[: -len(suffix)]) * factor / 2**30
    return float(quantity) / 2**30


def manifest_memory_gib(manifest) -> float:
    """Memory the manifest's pods request (head + every worker replica)."""

    def request(group) -> float:
        containers = group["template"]["spec"]["containers"]
        res = containers[0].get("resources") or {}
        value = (res.get("requests") or {}).get("memory") or (res.get("limits") or {}).get("memory")
        return _gib(value) if value else 0.0

    cluster = manifest.cluster_config
    total = request(cluster["headGroupSpec"])
    for group, spec in zip(manifest.worker_groups, cluster.get("workerGroupSpecs", [])):
        total += group.replicas * request(spec)
    return total


def kind_checks(commands, manifest=None) -> list[Check]:
    """A laptop with Docker: the daemon, kind, kubectl, helm, and memory for the pods."""
    checks = []
    if not commands.which("docker"):
        from helpers.backends.commands import INSTALL_HINTS

        checks.append(Check("Docker daemon reachable", False, f"docker not found: {INSTALL_HINTS['docker']}"))
    else:
        result = commands.run(
            ["docker", "info", "--format", "{{.ServerVersion}} {{.MemTotal}}"], check=False, timeout=30
        )
        if not result.ok:
            reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            checks.append(
                Check(
                    "Docker daemon reachable",
                    False,
                    f"{reason} - start Docker (Docker Desktop, or `sudo systemctl start docker`)",
                )
            )
        else:
            version, mem = (result.stdout.split() + ["0"])[:2]
            checks.append(Check("Docker daemon reachable", True, f"Docker {version}"))
            have = int(mem) / 2**30
            need = (manifest_memory_gib(manifest) if manifest else 5.0) + 1.5  # + the kind node itself
            checks.append(
                Check(
                    f"memory for Docker >= {need:.1f} GiB",
                    True,
                    f"{have:.1f} GiB"
                    + ("" if have >= need else ": below what the pods request; raise Docker's memory limit"),
                    warning=have < need,
                )
            )
    checks.append(_tool(commands, "kind", ["version"]))
    checks.append(_tool(commands, "kubectl", ["version", "--client"]))
    checks.append(_tool(commands, "helm", ["version", "--short"]))
    return checks


def run(backend: str = config.DEFAULT_BACKEND, commands=None, manifest=None) -> list[Check]:
    if backend not in config.BACKENDS:
        return [Check(f"backend {backend!r}", False, f"unknown: set BACKEND to one of {', '.join(config.BACKENDS)}")]
    if backend == "local":
        return local_checks()
    from helpers.backends.commands import Commands

    commands = commands or Commands()
    return kind_checks(commands, manifest) if backend == "kind" else kubernetes_checks(commands)


def report(checks: list[Check], details: bool = True) -> str:
    lines = []
    for c in checks:
        line = f"{'✗' if not c.ok else '⚠' if c.warning else '✓'} {c.name}"
        if details or not c.ok:
            line += f": {c.detail}"
        lines.append(line)
    return "\n".join(lines)
