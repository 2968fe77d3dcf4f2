"""Plain-text tables of manifests and status: deterministic, so notebooks can check them."""

from __future__ import annotations

from typing import Any

from helpers.kubectl import Command
from helpers.manifests import RayServiceManifest


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def shell(command: Command) -> str:
    """A command as a learner types it (``$ kubectl ...``), for steps a cell shows but does not run:
    a port-forward runs until stopped, and ``backend.apply`` does the apply itself."""
    return f"$ {command.text}"


def cluster_summary(manifest: RayServiceManifest) -> str:
    """The Ray cluster the manifest asks for: one row per node group."""
    rows = [("head", 1, f"{manifest.head_num_cpus:g}")]
    rows += [(f"worker group {g.name!r}", g.replicas, f"{g.num_cpus:g}") for g in manifest.worker_groups]
    return table(("group", "nodes", "CPUs per node"), rows)


def manifest_routes(manifest: RayServiceManifest) -> str:
    rows = []
    for app in manifest.applications:
        replicas = sum(d.get("num_replicas", 1) for d in app.get("deployments", []))
        rows.append((app.get("route_prefix", "/"), app["name"], app["import_path"], replicas))
    return table(("route prefix", "application", "import_path", "replicas"), rows)


def status_table(status: dict[str, Any]) -> str:
    """Ready condition, then one row per deployment: status and replicas running/target."""
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    head = f"RayService {status['serviceName']}: Ready={ready['status']} ({ready['reason']})"
    rows = []
    for app_name, app in status["activeServiceStatus"]["applicationStatuses"].items():
        for dep_name, dep in app["serveDeploymentStatuses"].items():
            running = dep["replicaStates"].get("RUNNING", 0)
            target = dep["targetReplicas"]
            replicas = f"{running}/{target}" if target is not None else "-"  # unknown without Serve's API
            rows.append((app_name, app["status"], dep_name, dep["status"], replicas))
        if not app["serveDeploymentStatuses"]:
            rows.append((app_name, app["status"], "-", "-", "-"))
    return head + "\n" + table(("application", "app status", "deployment", "status", "replicas"), rows)


def route_table(status: dict[str, Any]) -> str:
    """What the proxies route: prefix -> application, with its status and running replicas."""
    rows = []
    apps = status["activeServiceStatus"]["applicationStatuses"]
    for name, app in sorted(apps.items(), key=lambda kv: kv[1].get("routePrefix") or ""):
        running = sum(d["replicaStates"].get("RUNNING", 0) for d in app["serveDeploymentStatuses"].values())
        rows.append((app.get("routePrefix") or "-", name, app["status"], running))
    return table(("route prefix", "application", "status", "running replicas"), rows)


def counts(counted: dict[str, int], what: str, of: str = "answers") -> str:
    """A {value: count} dict as a two-column table, most first (``what``: the values' column, ``of``: the counts')."""
    return table((what, of), sorted(counted.items(), key=lambda item: (-item[1], item[0])))


def overlap(window: dict[str, Any], old: str, new: str) -> str:
    """Traffic.overlap()'s answer as a table: when each version answered, the window, the answers inside it."""
    inside = window.get("answers_in_window") or {}
    rows = [
        (f"first answer of {new}", f"{window['first_new_s']} s" if window["first_new_s"] is not None else "-"),
        (f"last answer of {old}", f"{window['last_old_s']} s" if window["last_old_s"] is not None else "-"),
        ("both answered for", f"{window['overlap_s']} s"),
        *((f"answers of {version} in that window", count) for version, count in sorted(inside.items())),
    ]
    return table(("what", "value"), rows)
