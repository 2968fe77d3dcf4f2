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


def run(backend: str = config.DEFAULT_BACKEND) -> list[Check]:
    if backend not in config.BACKENDS:
        return [
            Check(
                f"backend {backend!r}",
                False,
                f"not available in this version: set BACKEND to one of {', '.join(config.BACKENDS)}",
            )
        ]
    return local_checks()


def report(checks: list[Check], details: bool = True) -> str:
    lines = []
    for c in checks:
        line = f"{'✓' if c.ok else '✗'} {c.name}"
        if details or not c.ok:
            line += f": {c.detail}"
        lines.append(line)
    return "\n".join(lines)
