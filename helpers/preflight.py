"""Preflight: is this machine ready for the chosen backend? Each check says how to fix it.

Each check's name and detail are written in the learner's language where the check is made (helpers.i18n)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from helpers import config
from helpers.check import Check
from helpers.i18n import N_, _
from helpers.quantities import gib, pod_resources


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
            _("installed {version}", version=ray)
            if ray
            else _("not installed: run `make lab` (it installs everything)"),
        )
    )
    proto = _version("protobuf") or "missing"
    checks.append(
        Check(
            _("protobuf < 7 (Ray 2.55 fails every deploy with protobuf 7)"),
            proto != "missing" and int(proto.split(".")[0]) < 7,
            _("installed {version}; the lock file pins 6.33.6", version=proto),
        )
    )
    gib = psutil.virtual_memory().available / 2**30
    checks.append(Check(_("memory available >= 4 GiB"), gib >= 4, _("{gib} GiB available", gib=f"{gib:.1f}")))
    cpus = os.cpu_count() or 1
    checks.append(Check(_("CPU cores >= 2"), cpus >= 2, _("{count} cores", count=cpus)))
    return checks


def _tool(commands, tool: str, version_args: list[str]) -> Check:
    from helpers.backends.commands import INSTALL_HINTS

    name = _("{tool} installed", tool=tool)
    if not commands.which(tool):
        return Check(name, False, _("not found: {hint}", hint=INSTALL_HINTS[tool]))
    result = commands.run([tool, *version_args], check=False, timeout=30)
    text = (result.stdout or result.stderr).strip().splitlines()
    return Check(name, result.ok, text[0] if text else _("(no version printed)"))


def kubernetes_checks(commands, context: str | None = None) -> list[Check]:
    """An existing cluster: kubectl, and a current context that answers."""
    checks = [_tool(commands, "kubectl", ["version", "--client"])]
    if checks[0].ok:
        ctx = ["--context", context] if context else []
        result = commands.run(["kubectl", *ctx, "get", "--raw", "/version"], check=False, timeout=30)
        if context:
            name = _("Kubernetes API reachable (context {context})", context=context)
        else:
            name = _("Kubernetes API reachable")
        if result.ok:
            detail = _("answers")
        else:
            reason = (result.stderr.strip().splitlines() or [_("no answer")])[-1]
            detail = _("{reason} - check `kubectl config current-context`", reason=reason)
        checks.append(Check(name, result.ok, detail))
    return checks


# -- memory: what a lesson needs -----------------------------------------------------------------------------------

# Besides the Ray pods: the KubeRay operator's pod (its Helm chart's default: 512Mi) and, on kind, the node
# itself (API server, etcd, kubelet, CoreDNS, kindnet: about 1 GiB once the Ray pods run).
OPERATOR_GIB = 0.5
KIND_NODE_GIB = 1.0
DOCKER_MEMORY_HINT = N_(  # English; shown with _(DOCKER_MEMORY_HINT)
    "raise Docker's memory: Docker Desktop -> Settings -> Resources -> Memory (then Apply & restart); "
    "on Linux, Docker uses the machine's memory: close other programs or use a bigger machine"
)


def pod_memory_gib(template: dict) -> float:
    """Memory of one pod: for each container the larger of its memory request and limit (what it may use),
    summed over the pod's containers."""
    total = 0.0
    for container in (template.get("spec") or {}).get("containers") or []:
        res = container.get("resources") or {}
        values = [(res.get(k) or {}).get("memory") for k in ("requests", "limits")]
        total += max((gib(v) for v in values if v), default=0.0)
    return total


def manifest_memory_gib(manifest) -> float:
    """Memory of one Ray cluster of the manifest: the head pod + every worker replica (``replicas`` of each
    worker group), each pod counted by pod_memory_gib (the larger of request and limit, per container)."""
    cluster = manifest.cluster_config
    total = pod_memory_gib(cluster["headGroupSpec"]["template"])
    for spec in cluster.get("workerGroupSpecs") or []:
        total += int(spec.get("replicas", spec.get("minReplicas", 1)) or 0) * pod_memory_gib(spec["template"])
    return total


def memory_needed(manifest, upgrade: bool, kind_node: bool = True) -> float:
    """GiB the lesson needs: the manifest's Ray cluster, twice when the lesson upgrades the cluster (a
    rayClusterConfig change: KubeRay keeps the old RayCluster until the new one is promoted, plus
    rayClusterDeletionDelaySeconds, 60 s by default), plus the operator and (on kind) the node."""
    return (
        manifest_memory_gib(manifest) * (2 if upgrade else 1)
        + redis_memory_gib(manifest)
        + OPERATOR_GIB
        + (KIND_NODE_GIB if kind_node else 0)
    )


def redis_memory_gib(manifest) -> float:
    """The Redis of manifests/redis/ when the manifest has GCS fault tolerance (one per namespace), else 0."""
    from helpers.backends.kube_redis import gcs_fault_tolerance, redis_objects

    if gcs_fault_tolerance(manifest) is None:
        return 0.0
    (deployment,) = [o for o in redis_objects("x") if o["kind"] == "Deployment"]
    return pod_memory_gib(deployment["spec"]["template"])


@dataclass(frozen=True)
class Lesson:
    notebook: str  # e.g. "05_rolling_updates"
    manifest: str  # the lesson's MANIFEST parameter, from the project root, e.g. "manifests/ray-service.yaml"
    upgrade: bool  # needs room for a second RayCluster
    why: str  # what makes it need that room ("" when it does not)


_UPGRADE_CALLS = ("cluster_upgrade(", "upgrade_cluster(", "replace_cluster(")
# Lesson 08 applies a broken copy of the RayService beside the lesson's: its pods never start, but the scheduler
# books their requests, so they need the room of a second RayCluster to show their fault (not Insufficient memory).
_COPY_CALLS = ("debugging.seed(",)
_TOUCHES = (*_UPGRADE_CALLS, *_COPY_CALLS, "backend.apply(", "delete_service(", "backend.down(")


def lessons(notebooks_dir: Path | None = None) -> list[Lesson]:
    """Every lesson with a RayService manifest, read from the notebooks themselves: the MANIFEST parameter, and
    whether the lesson upgrades the cluster (it calls ``cluster_upgrade``/``upgrade_cluster``) or applies its
    manifest over a cluster the previous lesson left upgraded (that lesson's last RayService call was the
    upgrade: the apply changes rayClusterConfig back, another new cluster)."""
    import json
    import re

    found = []
    left_upgraded = None  # the lesson whose last RayService call was an upgrade
    # Lessons as helpers.runner.lesson_notebooks names them (00_setup, 04a_self_healing, ...); not imported from
    # there: the runner imports the lab checks, which import the backends, which import this module.
    for path in sorted((notebooks_dir or config.NOTEBOOKS_DIR).glob("[0-9][0-9]*_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        manifest = next((m.group(1) for c in code for m in [re.search(r'^MANIFEST = "([^"]+)"', c, re.M)] if m), None)
        touches = [line for c in code for line in c.splitlines() if any(t in line for t in _TOUCHES)]
        upgrades = any(t in line for line in touches for t in _UPGRADE_CALLS)
        why = ""
        if any(t in line for line in touches for t in _COPY_CALLS):
            why = "a broken copy of the RayService beside it: its pods book their requests, and never start"
        elif upgrades:
            why = "changes rayClusterConfig: a second RayCluster until promotion + 60 s"
        elif left_upgraded and any("backend.apply(" in line for line in touches):
            why = f"applies its manifest over the cluster {left_upgraded} upgraded: one more new RayCluster"
        if touches:
            last = touches[-1]
            left_upgraded = path.stem if any(t in last for t in _UPGRADE_CALLS) else None
        if manifest:
            name = manifest.removeprefix("../")
            found.append(Lesson(path.stem, name, bool(why), why))
    return found


def lesson_memory(kind_node: bool = True) -> list[tuple[Lesson, float]]:
    """(lesson, GiB it needs) for every lesson, from its manifest."""
    from helpers.manifests import load_manifest

    return [
        (lesson, memory_needed(load_manifest(config.PROJECT_ROOT / lesson.manifest), lesson.upgrade, kind_node))
        for lesson in lessons()
    ]


def memory_table() -> str:
    """The README's table: memory each lesson needs on kind (Docker's memory) and on a shared cluster."""
    rows = [
        "| lesson | manifest | second RayCluster? | Docker memory (kind) | Ray pods (shared cluster namespace) |",
        "|---|---|---|---|---|",
    ]
    for lesson, need in lesson_memory():
        quota = need - OPERATOR_GIB - KIND_NODE_GIB
        rows.append(
            f"| `{lesson.notebook}` | `{lesson.manifest}` | {'yes: ' + lesson.why if lesson.upgrade else 'no'} "
            f"| {need:.1f} GiB | {quota:.1f} GiB |"
        )
    return "\n".join(rows)


def namespace_quota() -> dict[str, str]:
    """The ResourceQuota of a learner's namespace on a shared cluster: the most any lesson needs (the
    lessons that upgrade the cluster count two RayClusters), plus one more of the largest pod, because a
    deleted pod (lesson 04) still counts while it terminates and its replacement must fit beside it."""
    from helpers.manifests import load_manifest

    most: dict[str, float] = {}
    for lesson in lessons():
        cluster = load_manifest(config.PROJECT_ROOT / lesson.manifest).cluster_config
        groups = [(cluster["headGroupSpec"], 1)] + [
            (spec, int(spec.get("replicas", 1) or 0)) for spec in cluster.get("workerGroupSpecs") or []
        ]
        per_pod = [pod_resources(group["template"]) for group, _ in groups]
        need = {key: sum(p[key] * n for p, (_, n) in zip(per_pod, groups)) for key in per_pod[0]}
        need["pods"] = sum(n for _, n in groups)
        copies = 2 if lesson.upgrade else 1
        largest = max(per_pod, key=lambda p: p["limits.memory"])
        for key, value in need.items():
            total = value * copies + (1 if key == "pods" else largest[key])
            most[key] = max(most.get(key, 0.0), total)
    return {
        key: (f"{value:g}Gi" if key.endswith("memory") else f"{value:g}" if key != "pods" else str(int(value)))
        for key, value in sorted(most.items())
    }


def memory_check(have_gib: float, manifest=None, upgrade: bool | None = None) -> Check:
    """Docker's memory against what is needed: with no manifest, every lesson (the most any lesson needs);
    with one, that manifest (``upgrade``: with room for a second cluster; None: say it in a warning)."""
    if manifest is None:
        (lesson, need), *_others = sorted(lesson_memory(), key=lambda pair: -pair[1])
        if lesson.upgrade:
            what = _("every lesson; {lesson} needs the most: two RayClusters", lesson=lesson.notebook)
        else:
            what = _("every lesson; {lesson} needs the most", lesson=lesson.notebook)
    else:
        need = memory_needed(manifest, bool(upgrade))
        what = _("{manifest}, two RayClusters during the upgrade", manifest=manifest.name) if upgrade else manifest.name
    name = _("memory for Docker >= {need} GiB ({what})", need=f"{need:.1f}", what=what)
    have, hint = f"{have_gib:.1f}", _(DOCKER_MEMORY_HINT)
    if have_gib < need:
        detail = _(
            "Docker has {have} GiB, the lesson needs {need} GiB: {hint}", have=have, need=f"{need:.1f}", hint=hint
        )
        return Check(name, False, detail)
    if manifest is not None and upgrade is None:
        double = memory_needed(manifest, True)
        if have_gib < double:
            detail = _(
                "Docker has {have} GiB: enough for this lesson, not for a cluster upgrade (lessons 04b and 05 need "
                "{need} GiB): {hint}",
                have=have,
                need=f"{double:.1f}",
                hint=hint,
            )
            return Check(name, True, detail, warning=True)
    return Check(name, True, _("Docker has {have} GiB", have=have))


def kind_checks(commands, manifest=None, upgrade: bool | None = None) -> list[Check]:
    """A laptop with Docker: the daemon, kind, kubectl, helm, and memory for the pods (memory_check)."""
    checks = []
    if not commands.which("docker"):
        from helpers.backends.commands import INSTALL_HINTS

        checks.append(
            Check(_("Docker daemon reachable"), False, _("docker not found: {hint}", hint=INSTALL_HINTS["docker"]))
        )
    else:
        result = commands.run(
            ["docker", "info", "--format", "{{.ServerVersion}} {{.MemTotal}}"], check=False, timeout=30
        )
        if not result.ok:
            reason = (result.stderr.strip().splitlines() or [_("no answer")])[-1]
            detail = _("{reason} - start Docker (Docker Desktop, or `sudo systemctl start docker`)", reason=reason)
            checks.append(Check(_("Docker daemon reachable"), False, detail))
        else:
            version, mem = (result.stdout.split() + ["0"])[:2]
            checks.append(Check(_("Docker daemon reachable"), True, f"Docker {version}"))
            checks.append(memory_check(int(mem) / 2**30, manifest, upgrade))
    checks.append(_tool(commands, "kind", ["version"]))
    checks.append(_tool(commands, "kubectl", ["version", "--client"]))
    checks.append(_tool(commands, "helm", ["version", "--short"]))
    return checks


def run(backend: str = config.DEFAULT_BACKEND, commands=None, manifest=None) -> list[Check]:
    if backend not in config.BACKENDS:
        known = ", ".join(config.BACKENDS)
        return [Check(f"backend {backend!r}", False, _("unknown: set BACKEND to one of {backends}", backends=known))]
    if backend == "local":
        return local_checks()
    if backend == "host":
        from helpers.host.preflight import host_checks

        return host_checks()
    from helpers.backends.commands import Commands

    commands = commands or Commands()
    return kind_checks(commands, manifest) if backend == "kind" else kubernetes_checks(commands)


def report(checks: list[Check], details: bool = True) -> str:
    lines = []
    for c in checks:  # names and details are in the learner's language already
        line = f"{'✗' if not c.ok else '⚠' if c.warning else '✓'} {c.name}"
        if details or not c.ok:
            line += f": {c.detail}"
        lines.append(line)
    return "\n".join(lines)
