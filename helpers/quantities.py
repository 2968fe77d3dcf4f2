"""Kubernetes resource quantities ("500m" CPU, "2Gi" memory) as numbers, and what a pod asks for."""

from __future__ import annotations


def gib(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if str(quantity).endswith(suffix):
            return float(str(quantity)[: -len(suffix)]) * factor / 2**30
    return float(quantity) / 2**30


def cpu(quantity) -> float:
    """A CPU quantity ('1', 2, '500m', '1.5') in CPUs; ValueError for anything else."""
    text = str(quantity).strip()
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def pod_resources(template: dict) -> dict[str, float]:
    """requests.cpu, requests.memory, limits.cpu, limits.memory (cores, GiB) of one pod, summed over its
    containers: what a ResourceQuota counts."""
    total = dict.fromkeys(("requests.cpu", "requests.memory", "limits.cpu", "limits.memory"), 0.0)
    for container in (template.get("spec") or {}).get("containers") or []:
        res = container.get("resources") or {}
        for kind in ("requests", "limits"):
            values = res.get(kind) or {}
            total[f"{kind}.cpu"] += cpu(values["cpu"]) if "cpu" in values else 0.0
            total[f"{kind}.memory"] += gib(values["memory"]) if "memory" in values else 0.0
    return total
