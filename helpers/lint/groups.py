"""What KubeRay v1.7.0 makes of a RayService's groups: their containers, Ray's CPUs, the worker count.

Pure functions of the manifest, shared by the rules and by ``helpers.manifests``; the CRD's defaults
are read from the schema extract in ``helpers/data/`` (``helpers.crd_schema``).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from helpers.quantities import cpu as cpu_quantity


def containers(group: Any) -> list[dict]:
    if not isinstance(group, dict):
        return []
    found = (((group.get("template") or {}).get("spec")) or {}).get("containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def num_cpus(group: dict) -> float:
    """The CPUs Ray sees on a node, as KubeRay v1.7.0 sets `ray start --num-cpus`.

    The group's ``resources: {cpu: ...}``, else ``rayStartParams`` num-cpus, else the Ray container's
    (the first one's) CPU limit, else its CPU request. A limit or request is rounded *up* to a whole
    number, as Kubernetes' ``Quantity.Value()`` does (``500m`` gives 1 CPU). With none of these Ray
    counts the machine's CPUs; the linter then assumes 1.
    """
    resources = group.get("resources")
    for key, value in (resources if isinstance(resources, dict) else {}).items():
        if str(key).lower() == "cpu":
            return float(math.ceil(cpu_quantity(value)))
    params = group.get("rayStartParams") or {}
    if "num-cpus" in params:
        return float(params["num-cpus"])
    found = containers(group)
    limits = (found[0].get("resources") or {}) if found else {}
    for kind in ("limits", "requests"):
        cpu = (limits.get(kind) or {}).get("cpu")
        if cpu is not None and cpu_quantity(cpu) > 0:
            return float(math.ceil(cpu_quantity(cpu) - 1e-9))
    return 1.0


def worker_default(key: str) -> Any:
    """A worker group field's default in KubeRay's CRD (replicas 0, minReplicas 0, maxReplicas 2^31-1...)."""
    cluster = crd_schema()["properties"]["spec"]["properties"]["rayClusterConfig"]["properties"]
    return cluster["workerGroupSpecs"]["items"]["properties"][key].get("default")


def worker_replicas(group: dict) -> int:
    """The worker nodes of a group, as KubeRay v1.7.0 counts them (the CRD's defaults filled in first):
    ``replicas`` kept within [minReplicas, maxReplicas], times ``numOfHosts``; 0 when the group is suspended."""
    if group.get("suspend") is True:
        return 0
    low = int(group.get("minReplicas", worker_default("minReplicas")))
    high = int(group.get("maxReplicas", worker_default("maxReplicas")))
    replicas = int(group.get("replicas", worker_default("replicas")))
    replicas = low if replicas < low else min(replicas, high)
    return replicas * int(group.get("numOfHosts", worker_default("numOfHosts")))


def image_ray_version(image: Any) -> str | None:
    """'rayproject/ray:2.55.1-py311' -> '2.55.1'; None for other images."""
    match = re.fullmatch(r"(?:.*/)?rayproject/ray(?:-ml)?:(\d+\.\d+\.\d+)(?:-.*)?", str(image or ""))
    return match.group(1) if match else None


def version_tuple(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(x) for x in match.groups()) if match else None


def all_containers(cluster: dict) -> list[tuple[str, dict]]:
    groups = [("headGroupSpec", cluster.get("headGroupSpec"))]
    workers = cluster.get("workerGroupSpecs")
    groups += [(f"workerGroupSpecs[{i}]", g) for i, g in enumerate(workers if isinstance(workers, list) else [])]
    return [(where, c) for where, group in groups for c in containers(group)]


def env_names(container: dict | None) -> set[str]:
    env = (container or {}).get("env")
    return {e.get("name") for e in env if isinstance(e, dict)} if isinstance(env, list) else set()


def head_container(cluster: dict) -> dict | None:
    """The Ray container of the head (KubeRay's RayContainerIndex 0), or None."""
    found = containers(cluster.get("headGroupSpec"))
    return found[0] if found else None


def worker_groups(cluster: dict) -> list[tuple[int, dict]]:
    groups = cluster.get("workerGroupSpecs")
    return [(i, g) for i, g in enumerate(groups) if isinstance(g, dict)] if isinstance(groups, list) else []


@functools.lru_cache(maxsize=1)
def crd_schema() -> dict[str, Any]:
    """KubeRay v1.7.0's RayService schema (the extract in helpers/data/)."""
    from helpers import crd_schema as extract

    return extract.load_extract()
