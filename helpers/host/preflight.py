"""Can the host backend run on this machine? Each check says what is wrong and what to do."""

from __future__ import annotations

import os
import shutil
import sys

from helpers import config
from helpers.check import Check

MIN_MEMORY_GIB = 8.0  # the control plane, CoreDNS, the operator and one RayService with its upgrade (two clusters)
MIN_DISK_GIB = 4.0  # a running cluster: pods' writable layers, logs, etcd
TOOLS = {"ip": "iproute2", "nft": "nftables", "umount": "mount", "chroot": "coreutils"}


def platform_checks() -> list[Check]:
    checks = [
        Check(
            "Linux",
            sys.platform.startswith("linux"),
            f"this is {sys.platform}: the host backend runs Kubernetes "
            "on this machine's own kernel; elsewhere use BACKEND=kind or local",
        ),
    ]
    if not checks[0].ok:
        return checks
    root = os.geteuid() == 0
    checks.append(
        Check(
            "running as root",
            root,
            "root"
            if root
            else "the host backend makes network namespaces, a bridge and mounts: run it as root (sudo make ...)",
        )
    )
    for tool, package in TOOLS.items():
        found = shutil.which(tool)
        checks.append(Check(f"`{tool}`", bool(found), found or f"missing: apt-get install {package}"))
    return checks


def build_checks() -> list[Check]:
    from helpers.host import build, images

    try:
        go = build.check_go()
        checks = [Check("Go for the build", True, go)]
    except build.BuildError as exc:
        checks = [Check("Go for the build", False, str(exc))]
    missing = build.missing() + images.missing()
    checks.append(
        Check(
            "host cluster built",
            not missing,
            f"cached in {config.host_cache()}"
            if not missing
            else f"not built yet: {', '.join(missing)} - run `make host-build` first (the first build takes long: "
            "CONTRIBUTING.md has the figures)",
        )
    )
    return checks


def resource_checks() -> list[Check]:
    import psutil

    avail = psutil.virtual_memory().available / 2**30
    disk_dir = config.host_cache() if config.host_cache().exists() else config.host_cache().parent.parent
    free = shutil.disk_usage(disk_dir if disk_dir.exists() else "/").free / 2**30
    return [
        Check(
            f"memory available >= {MIN_MEMORY_GIB:.0f} GiB",
            avail >= MIN_MEMORY_GIB,
            f"{avail:.1f} GiB available"
            + ("" if avail >= MIN_MEMORY_GIB else ": stop other programs (a local backend, JupyterLab kernels)"),
        ),
        Check(f"disk free >= {MIN_DISK_GIB:.0f} GiB", free >= MIN_DISK_GIB, f"{free:.1f} GiB free"),
    ]


def port_checks() -> list[Check]:
    """Every port the cluster listens on is free, or held by the cluster itself (a running one is reused)."""
    import psutil

    from helpers.host import cluster, components

    ours = set(cluster.started_pids().values())
    taken = {}
    for conn in psutil.net_connections("inet"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr:
            taken.setdefault(conn.laddr.port, conn.pid)
    checks = []
    for name, (_, port) in components.PORTS.items():
        pid = taken.get(port)
        if pid is None or pid in ours:
            continue
        holder = f"{psutil.Process(pid).name()} (pid {pid})" if pid and psutil.pid_exists(pid) else "another program"
        checks.append(Check(f"port {port} free ({name})", False, f"{holder} listens on it: stop it first"))
    return checks


def other_backend() -> list[Check]:
    """The local backend and the host backend never run at once (kubelet's ports fall in Ray's worker range)."""
    from helpers.backends.local import LocalBackend

    running = LocalBackend().our_processes()
    if running:
        return [
            Check(
                "the local backend is stopped",
                False,
                f"it runs ({len(running)} processes): `make down BACKEND=local` first - the two never run at once",
            )
        ]
    return []


def host_checks() -> list[Check]:
    checks = platform_checks()
    if not all(c.ok for c in checks):
        return checks
    return checks + build_checks() + resource_checks() + port_checks() + other_backend()
