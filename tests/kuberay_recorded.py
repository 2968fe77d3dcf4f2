"""What KubeRay did on the host cluster, recorded through the same API calls the kube backend makes, so the played
cluster (tests/kuberay_fake/) is held to it.

A recording polls ``get_rayservice`` and ``list_pods`` (the names of ``helpers.backends.kubeapi.KubeAPI``, which
the fake shares) during one operation and keeps each *facet* of what it saw as the sequence of its distinct
values: the RayService's Ready condition, the applications' statuses as the RayService shows them, the head pod
(the old one or a new one, its phase, Ready, terminating), the worker pods (the same names or not, restarted or
not), how many pods there are. Facets are compared one by one: each is one actor's own sequence (KubeRay's status,
the kubelet's pod), while the order between two actors' steps can differ from one run to the next.

``python -m tests.host.record_kuberay`` records on the host cluster into ``RECORDING`` (committed);
``tests/unit/test_kuberay_timeline_recorded.py`` plays each operation on the fake and compares.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.manifests import load_manifest, with_pod_env, with_user_config

RECORDING = Path(__file__).parent / "data" / "kuberay-host-recorded.json"
SERVICE = "ray-serve-app"
FACETS = ("rayservice", "ready", "apps", "generation_seen", "head", "workers", "pods")


def pod_restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restart_count") or 0 for c in (pod.get("status") or {}).get("container_statuses") or [])


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def baseline(api: Any, namespace: str) -> dict[str, int]:
    """The Ray pods before the operation, with their containers' restart counts."""
    return {p["metadata"]["name"]: pod_restarts(p) for p in api.list_pods(namespace, "ray.io/is-ray-node=yes")}


def observe(api: Any, namespace: str, before: dict[str, int], service: str = SERVICE) -> dict[str, Any]:
    """One look at the RayService and its pods, in words that do not depend on names or times."""
    obj = api.get_rayservice(namespace, service)
    pods = api.list_pods(namespace, "ray.io/is-ray-node=yes")
    seen: dict[str, Any] = {"pods": len(pods)}
    if obj is None:
        seen.update(rayservice="gone", ready="-", apps="-", generation_seen="-")
    else:
        status = obj.get("status") or {}
        meta = obj.get("metadata") or {}
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        apps = (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
        seen.update(
            rayservice="deleting" if meta.get("deletionTimestamp") else "present",
            ready=f"{ready.get('status', '-')} {ready.get('reason', '')}".strip(),
            apps="/".join(sorted({a.get("status", "?") for a in apps.values()})) or "none",
            generation_seen=status.get("observedGeneration") == meta.get("generation"),
        )
    heads = [p for p in pods if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "head"]
    seen["head"] = (
        " + ".join(
            sorted(
                ("old" if p["metadata"]["name"] in before else "new")
                + f" {(p.get('status') or {}).get('phase')}"
                + (" Ready" if _ready(p) else "")
                + (" terminating" if p["metadata"].get("deletion_timestamp") else "")
                for p in heads
            )
        )
        or "none"
    )
    workers = [p for p in pods if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "worker"]
    kept = [p for p in workers if p["metadata"]["name"] in before]
    restarted = [p for p in kept if pod_restarts(p) > before[p["metadata"]["name"]]]
    seen["workers"] = f"{len(kept)} kept ({len(restarted)} restarted), {len(workers) - len(kept)} new"
    return seen


def distinct(values: list[Any]) -> list[Any]:
    """``values`` without consecutive repeats."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def facets(looks: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {f: distinct([look[f] for look in looks]) for f in FACETS}


def record(
    api: Any,
    namespace: str,
    act: Callable[[], Any],
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    every: float = 0.25,
) -> dict[str, list[Any]]:
    """Do ``act``, then look every ``every`` seconds until ``done(look)`` holds for 10 s of looks (what comes
    right after a change is part of the operation) or ``timeout``; the facets of every look."""
    before = baseline(api, namespace)
    looks = [observe(api, namespace, before)]
    act()
    start, settled_since = clock(), None
    while clock() - start < timeout:
        looks.append(observe(api, namespace, before))
        if done(looks[-1]):
            settled_since = clock() if settled_since is None else settled_since
            if clock() - settled_since >= 10:
                break
        else:
            settled_since = None
        sleep(every)
    else:
        raise AssertionError(f"not done within {timeout} s; last look: {looks[-1]}")
    return facets(looks)


def serving(look: dict[str, Any]) -> bool:
    return look["ready"].startswith("True") and look["apps"] == "RUNNING" and look["generation_seen"] is True


def _head(backend: Any) -> str:
    (head,) = backend.ray_pods("head")
    return head["metadata"]["name"]


def operations(backend: Any, manifest_path: Path, sleep=time.sleep, clock=time.monotonic) -> dict[str, dict]:
    """Each operation on ``backend`` (host or the fake), recorded; ``sleep``/``clock``: the fake's clock."""
    api, ns = backend.kube, backend.namespace
    base = load_manifest(manifest_path)

    def go(act, done, timeout=420):
        return record(api, ns, act, done, timeout, sleep=sleep, clock=clock)

    out = {}
    out["apply"] = go(lambda: backend.apply(base), serving)
    greeting = with_user_config(base, "hello", "Hello", {"greeting": "Bonjour"})
    out["in_place_update"] = go(lambda: backend.apply(greeting), serving)
    # Without GCS FT the worker's containers restart once the new head runs (tests/host/test_kuberay_behaviour.py).
    # With it, whatever the worker does is recorded (the looks go on 10 s after the apps are back).
    worker_after = "1 kept (" if "ha" in manifest_path.name else "1 kept (1 restarted), 0 new"
    out["head_loss"] = go(
        lambda: api.delete_pod(ns, _head(backend)),
        lambda s: serving(s) and s["head"] == "new Running Ready" and s["workers"].startswith(worker_after),
    )
    upgraded = with_pod_env(greeting, {"TUTORIAL_CLUSTER_REVISION": "2"})
    out["upgrade"] = go(
        lambda: backend.apply(upgraded),
        lambda s: serving(s) and s["head"] == "new Running Ready" and s["workers"] == "0 kept (0 restarted), 1 new",
    )
    (worker,) = backend.ray_pods("worker")
    out["worker_loss"] = go(
        lambda: api.delete_pod(ns, worker["metadata"]["name"]),
        lambda s: serving(s) and s["workers"] == "0 kept (0 restarted), 1 new",
    )
    out["delete"] = go(
        lambda: api.delete_rayservice(ns, SERVICE), lambda s: s["rayservice"] == "gone" and s["pods"] == 0
    )
    return out


def load() -> dict[str, Any]:
    return json.loads(RECORDING.read_text())
