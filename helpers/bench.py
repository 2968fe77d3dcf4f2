"""`make bench`: the tutorial's figures, measured on this machine, as JSON (bench/results.json, committed).

Per run: cluster-up seconds, apply-to-Ready seconds, each fault/update scenario at 20 req/s (failed
requests, recovery or switch seconds, latency), peak memory of the cluster's processes, and (local backend)
the seconds of every lesson notebook and of every lab run with its solution.
Runs twice (by default), writes every run with the medians and maxima under the backend's name
(``local``, ``host``: `make bench BACKEND=host` measures the same scenarios on the real Kubernetes of the
host backend), and regenerates the figures tables of README.md and labs/INSTRUCTOR.md from that file
(helpers/bench_tables.py): the docs quote one committed result, never hand-copied numbers.
``notebooks_ok`` / ``labs_ok`` summarise every run (all ok).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

from helpers import bench_tables, config, manifests, runner, scenarios
from helpers.backends import get_backend
from helpers.backends.base import Backend

BACKENDS = ("local", "host")  # what `make bench` measures: the kind backend needs Docker and kind (not here)


def cluster_processes(backend: Backend) -> list:
    """The processes of the cluster: the local backend's Ray processes; on the host backend every process of
    Kubernetes and containerd and every process in a pod (Ray's, in their containers)."""
    if backend.name != "host":
        return backend.our_processes()
    import psutil

    from helpers.host import cluster

    found = []
    for pid in {*cluster.cache_processes(), *cluster.cgroup_processes()}:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


class PeakMemory:
    """Samples the summed RSS of the cluster's processes every ``interval`` seconds."""

    def __init__(self, backend: Backend, interval: float = 1.0):
        self.backend, self.interval = backend, interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            total = 0
            for proc in cluster_processes(self.backend):
                try:
                    total += proc.memory_info().rss
                except Exception:  # noqa: BLE001 - a process may end while we look
                    continue
            self.peak_bytes = max(self.peak_bytes, total)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_scenarios(backend: Backend, rate: float = 20.0) -> dict[str, Any]:
    base = manifests.with_deployment_options(
        manifests.load_manifest("manifests/ray-service.yaml"), "hello", "Hello", max_replicas_per_node=1
    )
    four, four_ha = (
        base,
        manifests.with_deployment_options(
            manifests.load_manifest("manifests/ray-service-ha.yaml"), "hello", "Hello", max_replicas_per_node=1
        ),
    )
    figures: dict[str, Any] = {}
    start = time.monotonic()
    backend.up(base)
    figures["cluster_up_s"] = round(time.monotonic() - start, 1)
    start = time.monotonic()
    backend.apply(base)
    backend.wait_ready(180)
    figures["apply_to_ready_s"] = round(time.monotonic() - start, 1)

    traffic = dict(rate=rate, before=2.0, after=3.0, timeout=180.0)
    # Lesson 04a's faults, on lesson 04's manifest (2 replicas, one per node), in the lesson's order.
    outcomes = [
        ("replica_kill_no_retries", scenarios.replica_crash(backend, retries=False, **traffic)),
        ("worker_loss_no_retries", scenarios.node_loss(backend, retries=False, **traffic)),
        ("worker_loss_retries", scenarios.node_loss(backend, retries=True, **traffic)),
        ("proxy_kill_no_retries", scenarios.proxy_loss(backend, retries=False, **traffic)),
        ("proxy_kill_retries", scenarios.proxy_loss(backend, retries=True, **traffic)),
    ]
    figures |= autoscaling_ramp(backend)  # lesson 07's, before lesson 05's fresh deploy
    # Lesson 05's updates, on lesson 05's manifest (the file with 4 replicas).
    five = manifests.with_deployment_options(
        manifests.load_manifest("manifests/ray-service.yaml"), "hello", "Hello", num_replicas=4
    )
    # Serve cannot lift lesson 04's max_replicas_per_node cap from running replicas (the extra replicas are
    # never scheduled): start afresh, as lesson 05 does.
    backend.delete_service()
    backend.apply(five)
    backend.wait_ready(180)
    bonjour = manifests.with_user_config(five, "hello", "Hello", {"greeting": "Bonjour"})
    v2 = manifests.with_app_env(bonjour, "hello", {"APP_VERSION": "v2"})
    broken = manifests.with_import_path(v2, "hello", "hello_app:no_such_app")
    outcomes.append(("user_config_update", scenarios.update(backend, "user_config changed", bonjour, **traffic)))
    env_update = scenarios.update(backend, "APP_VERSION=v2 applied", v2, **traffic)
    outcomes.append(("env_update", env_update))
    outcomes.append(("bad_update", scenarios.update(backend, "bad import_path applied", broken, **traffic)))
    figures["env_update_overlap_s"] = env_update.traffic.overlap("v1", "v2")["overlap_s"]
    # Lesson 04b's "the head fails", last (each costs a head restart, and GCS fault tolerance a new cluster):
    # one fault each, measured by two clients at once, without and with retries.
    head_keys = (
        # (scenario with retries, scenario without, seconds until the head answers, until every app RUNNING)
        (
            "head_loss_no_ft_retries",
            "head_loss_no_ft_no_retries",
            "head_loss_no_ft_head_back_s",
            "head_loss_no_ft_apps_running_s",
        ),
        ("head_loss_ft_retries", "head_loss_ft_no_retries", "head_loss_ft_head_back_s", "head_loss_ft_apps_running_s"),
    )
    for (retrying, bare, head_back, apps_running), manifest in zip(head_keys, (four, four_ha), strict=True):
        if manifest is four_ha and backend.name == "local":
            backend.down(quiet=True)  # the GCS storage is chosen when the head starts: a new cluster, with Redis
            backend.up(manifest)
        else:  # on Kubernetes the RayService makes a new RayCluster (its apply makes Redis first)
            backend.delete_service()  # back to lesson 04's manifest (2 replicas, one per node)
        backend.apply(manifest)
        backend.wait_ready(180)
        head = scenarios.head_pod_loss(backend, name=f"head lost ({retrying.removesuffix('_retries')})", **traffic)
        outcomes += [(retrying, head), (bare, head.companion)]
        figures[head_back], figures[apps_running] = head.head_back_s, head.recovery_s
    figures["scenarios"] = {
        name: {k: o.to_dict()[k] for k in ("retries", "sent", "failed", "recovery_s", "p50_ms", "p99_ms")}
        | (
            {"error": str(o.error).strip().splitlines()[0]} if o.error else {}
        )  # the fault or its wait failed: no recovery figure
        for name, o in outcomes
    }
    for name, o in outcomes:
        if o.error:
            print(f"!! {name}: {o.error}", flush=True)
    return figures


def autoscaling_ramp(backend: Backend) -> dict[str, Any]:
    """Lesson 07's ramp (``autoscaling.LESSON``) on a fresh deploy of the lesson's manifest: the replicas' peak,
    how long after the load needed it the second replica ran, the way back to ``min_replicas``, the requests."""
    from helpers import autoscaling
    from helpers.ramp import Ramp

    lesson = autoscaling.LESSON
    # A fresh deploy: Serve cannot lift lesson 04's max_replicas_per_node cap from running replicas.
    backend.delete_service()
    backend.apply(
        autoscaling.autoscaled(
            manifests.load_manifest("manifests/ray-service.yaml"), lesson["autoscaling"], lesson["work_ms"]
        )
    )
    backend.wait_ready(180)
    seconds = autoscaling.seconds_per_request(backend.serve_url + "/hello")
    config = autoscaling.autoscaling_config(lesson["autoscaling"])
    ramp = Ramp.up_hold_down(lesson["peak"], lesson["up_s"], lesson["hold_s"], lesson["down_s"], arrivals="poisson")
    run = autoscaling.run_ramp(backend, ramp, config)
    print(run.report(), flush=True)
    figures = run.figures()
    (_, needed, ran), *_ = run.reactions(ramp, seconds, config)
    return {
        "autoscaling_predicted_replicas": autoscaling.steady_replicas(lesson["peak"], seconds, config),
        "autoscaling_peak_replicas": figures["peak_replicas"],
        "autoscaling_second_replica_lag_s": None if None in (needed, ran) else round(ran - needed, 1),
        "autoscaling_back_to_min_s": figures["scale_down_s"],
        "autoscaling_p50_ms": figures["p50_ms"],
        "autoscaling_p99_ms": figures["p99_ms"],
        "autoscaling_sent": figures["sent"],
        "autoscaling_failed": figures["failed"],
    }


def run_once(backend_name: str = "local", rate: float = 20.0) -> dict[str, Any]:
    """One run of every scenario on a cluster started for it (the host cluster too: its start is a figure).
    The lessons and labs are timed on the local backend only (INSTRUCTOR.md's agenda is the local one)."""
    backend = get_backend(backend_name)
    backend.down(quiet=True)
    try:
        with PeakMemory(backend) as memory:
            figures = run_scenarios(backend, rate)
        figures["peak_memory_mib"] = round(memory.peak_bytes / 2**20)
    finally:
        backend.down(quiet=True)
    if backend_name != "local":
        return figures
    results = runner.run_all("local", out_dir=config.BUILD_DIR / "bench-notebooks")
    backend.down(quiet=True)
    figures["notebooks_s"] = {r.notebook: round(r.seconds, 1) for r in results}
    figures["notebooks_ok"] = all(r.status == "ok" for r in results)
    labs = runner.run_labs("local", out_dir=config.BUILD_DIR / "bench-labs")
    backend.down(quiet=True)
    figures["labs_s"] = {r.notebook: round(r.seconds, 1) for r in labs}
    figures["labs_ok"] = all(r.status == "ok" for r in labs)
    return figures


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number across runs (same nesting); a boolean (``notebooks_ok``, ``labs_ok``) is
    true only if it is true in every run."""
    return bench_tables.medians(runs)


def machine(backend_name: str = "local") -> dict[str, Any]:
    import psutil

    found = {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": config.RAY_VERSION,
    }
    if backend_name == "host":
        found |= {k: config.HOST_VERSIONS[k] for k in ("kubernetes", "kuberay")}
    return found


def main(runs: int = 2, out: Path | None = None, rate: float = 20.0, backend: str = "local") -> dict[str, Any]:
    """Measure ``runs`` times on ``backend``, write every run with their medians and maxima under the
    backend's name in ``out`` (the committed bench/results.json by default; the other backends' results stay),
    then regenerate the figures tables of README.md and labs/INSTRUCTOR.md."""
    if backend not in BACKENDS:
        raise ValueError(
            f"make bench measures {' or '.join(BACKENDS)}, not {backend!r}: write BACKEND=local or BACKEND=host"
        )
    out = out or bench_tables.RESULT
    all_runs = []
    for i in range(runs):
        print(f"== bench run {i + 1}/{runs} ({backend} backend)", flush=True)
        all_runs.append(run_once(backend, rate))
    report = {
        "date": datetime.date.today().isoformat(),
        "rate": rate,
        "machine": machine(backend),
        "runs": all_runs,
        "median": bench_tables.medians(all_runs),
        "max": bench_tables.maxima(all_runs),
    }
    result = (bench_tables.load(out) or {}) | {backend: report}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(report["median"], indent=2))
    print(f"wrote the {backend} backend's result into {out}")
    if out == bench_tables.RESULT:
        for path in bench_tables.write(result):
            print(f"regenerated the figures in {bench_tables.shown(path)}")
    return result
