"""Ray Serve's Prometheus metrics, read from the nodes' metrics ports and parsed with
``prometheus_client``'s own parser (no regexes).

The metrics a lesson looks at (Ray adds the ``ray_`` prefix, counters end in ``_total``):

- ``ray_serve_num_http_requests_total``: requests the HTTP proxies handled (labels: application,
  route, method, status_code);
- ``ray_serve_num_http_error_requests_total``: the ones that failed;
- ``ray_serve_http_request_latency_ms``: a histogram of end-to-end latency at the proxy;
- ``ray_serve_deployment_replica_healthy``: 1 per healthy replica (labels: application, deployment).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "ray_serve_num_http_requests"
ERRORS = "ray_serve_num_http_error_requests"
LATENCY = "ray_serve_http_request_latency_ms"
HEALTHY = "ray_serve_deployment_replica_healthy"


@dataclass
class Snapshot:
    t: float
    counters: dict[str, float] = field(default_factory=dict)  # family -> sum over nodes and labels
    buckets: dict[float, float] = field(default_factory=dict)  # latency upper bound (ms) -> cumulative count
    healthy: float = 0.0
    replicas: int | None = None  # RUNNING replicas from the RayService status, when a source is given


def scrape(urls: list[str], timeout: float = 5.0) -> list[Any]:
    """Every sample of every URL's Prometheus text, parsed by prometheus_client."""
    samples = []
    for url in urls:
        try:
            text = requests.get(url, timeout=timeout).text
        except requests.RequestException:
            continue  # a node that is restarting: skip it this round
        for family in text_string_to_metric_families(text):
            samples.extend(family.samples)
    return samples


def snapshot(urls: list[str], t: float, application: str | None = None) -> Snapshot:
    snap = Snapshot(t)
    for s in scrape(urls):
        if application and s.labels.get("application") not in (None, application):
            continue
        if s.name in (REQUESTS + "_total", ERRORS + "_total"):
            key = s.name.removesuffix("_total")
            snap.counters[key] = snap.counters.get(key, 0.0) + s.value
        elif s.name == LATENCY + "_bucket":
            bound = float(s.labels["le"])
            snap.buckets[bound] = snap.buckets.get(bound, 0.0) + s.value
        elif s.name == HEALTHY:
            snap.healthy += s.value
    return snap


def percentile(buckets_delta: dict[float, float], p: float) -> float | None:
    """The latency (upper bucket bound, ms) under which ``p`` % of the interval's requests fell."""
    bounds = sorted(buckets_delta)
    if not bounds or buckets_delta[bounds[-1]] <= 0:
        return None
    target = buckets_delta[bounds[-1]] * p / 100
    for bound in bounds:
        if buckets_delta[bound] >= target:
            return bound
    return bounds[-1]


def rates(snapshots: list[Snapshot]) -> list[dict[str, Any]]:
    """Per interval between snapshots: request and error rate (/s), p50/p99 latency, replicas."""
    rows = []
    for a, b in zip(snapshots, snapshots[1:]):
        dt = b.t - a.t
        if dt <= 0:
            continue
        delta = {k: max(0.0, b.buckets.get(k, 0.0) - a.buckets.get(k, 0.0)) for k in b.buckets}
        rows.append(
            {
                "t": round(b.t, 1),
                "requests_per_s": round((b.counters.get(REQUESTS, 0) - a.counters.get(REQUESTS, 0)) / dt, 2),
                "errors_per_s": round((b.counters.get(ERRORS, 0) - a.counters.get(ERRORS, 0)) / dt, 2),
                "p50_ms": percentile(delta, 50),
                "p99_ms": percentile(delta, 99),
                "replicas": b.replicas if b.replicas is not None else b.healthy,
            }
        )
    return rows


class Sampler:
    """Takes a snapshot every ``interval`` seconds in the background.

    ``replicas``: a function returning the number of RUNNING replicas (e.g. from the RayService
    status), recorded with each snapshot: Ray reports the ``replica_healthy`` gauge only now and then.
    """

    def __init__(self, urls: list[str], interval: float = 2.0, application: str | None = None, replicas=None):
        self.urls, self.interval, self.application = urls, interval, application
        self.replicas = replicas
        self.snapshots: list[Snapshot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="metrics-sampler")
        self._start = 0.0

    def _run(self) -> None:
        while True:
            snap = snapshot(self.urls, time.monotonic() - self._start, self.application)
            if self.replicas is not None:
                try:
                    snap.replicas = self.replicas()
                except Exception:  # noqa: BLE001 - a status read that fails leaves a gap, not a crash
                    snap.replicas = None
            self.snapshots.append(snap)
            if self._stop.wait(self.interval):
                break

    def __enter__(self) -> Sampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def rates(self) -> list[dict[str, Any]]:
        return rates(self.snapshots)

    def counted(self) -> float:
        """Requests Serve counted between the first and the latest snapshot."""
        if len(self.snapshots) < 2:
            return 0.0
        first, last = self.snapshots[0], self.snapshots[-1]
        return last.counters.get(REQUESTS, 0) - first.counters.get(REQUESTS, 0)

    def wait_for_requests(self, n: float, timeout: float = 30.0) -> float:
        """Wait until Serve's counter shows ``n`` requests (metrics arrive with a delay)."""
        from helpers.progress import wait_for

        def check() -> tuple[bool, str]:
            return self.counted() >= n, f"{self.counted():.0f}/{n:.0f} requests counted"

        try:
            return wait_for("Serve's request counter", check, timeout, interval=self.interval)
        except TimeoutError:
            return timeout  # the lesson's check below reports the shortfall


def plot(rows: list[dict[str, Any]], title: str = "Ray Serve metrics"):
    """Request rate, error rate, latency percentiles and running replicas over time."""
    import matplotlib.pyplot as plt

    t = [r["t"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    axes[0].plot(t, [r["requests_per_s"] for r in rows], label="requests/s")
    axes[0].plot(t, [r["errors_per_s"] for r in rows], label="errors/s", color="red")
    axes[0].set_title("rate")
    axes[1].plot(t, [r["p50_ms"] for r in rows], label="p50")
    axes[1].plot(t, [r["p99_ms"] for r in rows], label="p99")
    axes[1].set_title("latency (ms, bucket bound)")
    axes[2].step(t, [r["replicas"] for r in rows], where="post")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title("running replicas")
    for ax in axes:
        ax.set_xlabel("seconds")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
