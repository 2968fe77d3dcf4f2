"""Ray Serve's Prometheus metrics, read from the nodes' metrics ports and parsed with
``prometheus_client``'s own parser (no regexes).

The metrics a lesson looks at (Ray adds the ``ray_`` prefix, counters end in ``_total``):

- ``ray_serve_num_http_requests_total``: requests the HTTP proxies handled (labels: application,
  route, method, status_code);
- ``ray_serve_num_http_error_requests_total``: the ones that failed;
- ``ray_serve_http_request_latency_ms``: a histogram of end-to-end latency at the proxy;
- ``ray_serve_deployment_replica_healthy``: 1 per healthy replica (labels: application, deployment,
  replica).

Three properties of how Ray exports them decide how a lesson must read them:

- every node runs its own metrics agent: the proxy on each node counts the requests *it* handled, so
  request counts are summed over every node's endpoint;
- a process reports its metrics to its node's agent every ``RAY_metrics_report_interval_ms`` (10 s by
  default; the local backend sets 2 s): a counter read from the endpoint moves in steps, so a rate is
  only meaningful over a window several report intervals long (``rates(..., window_s=10)``);
- ``ray_serve_deployment_replica_healthy`` is set by the Serve controller (on the head node) after a
  replica's health check, and re-sent only every ``RAY_SERVE_STATUS_GAUGE_REPORT_INTERVAL_S`` (10 s)
  while it does not change; Ray's agent drops a gauge's value once a scrape has read it. One scrape
  therefore shows only the replicas reported since the previous scrape (0, 2, 3... of 4): count the
  latest value per replica over a window longer than that interval (``healthy_replicas``).
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
    healthy: float = 0.0  # sum of the gauge values present in *this* scrape (partial: see the module doc)
    # (application, deployment, replica) -> gauge value, for the replicas reported in this scrape
    replica_health: dict[tuple[str, str, str], float] = field(default_factory=dict)
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
            key = (s.labels.get("application", ""), s.labels.get("deployment", ""), s.labels.get("replica", ""))
            snap.replica_health[key] = s.value
    return snap


# The Serve controller re-sends an unchanged health gauge every 10 s (RAY_SERVE_STATUS_GAUGE_REPORT_INTERVAL_S);
# with the report interval and the scrape on top, every healthy replica shows up at least once in 20 s.
HEALTH_WINDOW_S = 20.0


def healthy_replicas(snapshots: list[Snapshot], window_s: float = HEALTH_WINDOW_S) -> dict[tuple[str, str, str], float]:
    """The latest gauge value of every replica reported in the last ``window_s`` seconds of ``snapshots``
    (a replica stopped in the window reports 0 last)."""
    if not snapshots:
        return {}
    since = snapshots[-1].t - window_s
    latest: dict[tuple[str, str, str], float] = {}
    for snap in snapshots:
        if snap.t >= since:
            latest.update(snap.replica_health)
    return latest


def bucket_edges(snap: Snapshot) -> list[float]:
    """The latency histogram's finite bucket edges (ms), as Ray exports them in the ``le`` labels."""
    return sorted(b for b in snap.buckets if b != float("inf"))


def quantile_bucket(buckets_delta: dict[float, float], p: float) -> tuple[float, float] | None:
    """The bucket (lower edge, upper edge in ms) that holds the ``p`` % quantile: all a histogram knows."""
    upper = percentile(buckets_delta, p)
    if upper is None:
        return None
    lower = max((b for b in buckets_delta if b < upper), default=0.0)
    return lower, upper


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


def rates(snapshots: list[Snapshot], window_s: float | None = None) -> list[dict[str, Any]]:
    """Per snapshot: request and error rate (/s), p50/p99 latency and replicas over the window before it.

    ``window_s=None``: between consecutive snapshots. Otherwise, like Prometheus' ``rate(x[window])``:
    from the newest snapshot at least ``window_s`` older (none yet: no row) to this one, the counter
    increase divided by the seconds actually elapsed between the two reads. Counters reach the endpoint
    in steps (one per report interval), so the window must span several steps to show a steady 20
    req/s as about 20. ``healthy`` is the gauge counted per replica (latest value) over ``HEALTH_WINDOW_S``.
    """
    rows = []
    for j, b in enumerate(snapshots):
        if window_s is None:
            if j == 0:
                continue
            a = snapshots[j - 1]
        else:
            older = [s for s in snapshots[:j] if b.t - s.t >= window_s]
            if not older:
                continue
            a = older[-1]
        dt = b.t - a.t
        if dt <= 0:
            continue
        health = healthy_replicas(snapshots[: j + 1])
        delta = {k: max(0.0, b.buckets.get(k, 0.0) - a.buckets.get(k, 0.0)) for k in b.buckets}
        rows.append(
            {
                "t": round(b.t, 1),
                "requests_per_s": round((b.counters.get(REQUESTS, 0) - a.counters.get(REQUESTS, 0)) / dt, 2),
                "errors_per_s": round((b.counters.get(ERRORS, 0) - a.counters.get(ERRORS, 0)) / dt, 2),
                "p50_ms": percentile(delta, 50),
                "p99_ms": percentile(delta, 99),
                "replicas": b.replicas if b.replicas is not None else b.healthy,
                "healthy": sum(1 for v in health.values() if v >= 1),
            }
        )
    return rows


class Sampler:
    """Takes a snapshot every ``interval`` seconds in the background.

    ``replicas``: a function returning the number of RUNNING replicas (e.g. from the RayService
    status), recorded with each snapshot: Ray reports the ``replica_healthy`` gauge only now and then.
    """

    def __init__(self, urls: list[str], interval: float = 1.0, application: str | None = None, replicas=None):
        self.urls, self.interval, self.application = urls, interval, application
        self.replicas = replicas
        self.snapshots: list[Snapshot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="metrics-sampler")
        self._start = 0.0

    def _take(self) -> None:
        snap = snapshot(self.urls, time.monotonic() - self._start, self.application)
        if self.replicas is not None:
            try:
                snap.replicas = self.replicas()
            except Exception:  # noqa: BLE001 - a status read that fails leaves a gap, not a crash
                snap.replicas = None
        self.snapshots.append(snap)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._take()
        self._take()  # the last read, at the end of the block

    def __enter__(self) -> Sampler:
        self._start = time.monotonic()
        # The first read is taken before __enter__ returns, so before any request of the block is sent:
        # no request can be counted in it (the start edge of "counted").
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def rates(self, window_s: float | None = 10.0) -> list[dict[str, Any]]:
        return rates(list(self.snapshots), window_s)

    def healthy(self, window_s: float = HEALTH_WINDOW_S) -> dict[tuple[str, str, str], float]:
        """Latest health-gauge value per replica over the last ``window_s`` seconds."""
        return healthy_replicas(list(self.snapshots), window_s)

    def increase(self, counter: str) -> float:
        """How much ``counter`` grew, summed over every node's endpoint, from the first snapshot (taken
        before the first request) to the latest one."""
        if len(self.snapshots) < 2:
            return 0.0
        first, last = self.snapshots[0], self.snapshots[-1]
        return last.counters.get(counter, 0) - first.counters.get(counter, 0)

    def counted(self) -> float:
        """The one request count of the lesson: the increase of ``ray_serve_num_http_requests_total``."""
        return self.increase(REQUESTS)

    def buckets_increase(self) -> dict[float, float]:
        """The latency histogram's bucket counts over the run (first snapshot to the latest)."""
        first, last = self.snapshots[0], self.snapshots[-1]
        return {edge: last.buckets[edge] - first.buckets.get(edge, 0) for edge in last.buckets}

    def healthy_count(self, window_s: float = HEALTH_WINDOW_S) -> int:
        """Replicas whose latest health-gauge value over the last ``window_s`` seconds is healthy."""
        return sum(1 for value in self.healthy(window_s).values() if value >= 1)

    def wait_for_requests(self, n: float, timeout: float = 30.0) -> float:
        """Wait until Serve's counter shows ``n`` requests: the last ones reach the endpoint up to one
        report interval after they were answered."""
        from helpers.progress import wait_for

        def check() -> tuple[bool, str]:
            return self.counted() >= n, f"{self.counted():.0f}/{n:.0f} requests counted"

        try:
            return wait_for("Serve's request counter", check, timeout, interval=self.interval)
        except TimeoutError:
            return timeout  # the lesson's check below reports the shortfall


def count_report(traffic_summary: dict[str, Any], sampler: Sampler) -> str:
    """Requests sent (by the client) next to requests counted (by Serve), with the reason for any difference,
    then the errors on each side."""
    sent, counted = traffic_summary["sent"], int(sampler.counted())
    if counted == sent:
        difference = "difference: 0 (every answer was in, and reported, before the last scrape)"
    elif counted < sent:
        difference = (
            f"difference: {sent - counted} not yet reported (counters reach the endpoint once per report interval)"
        )
    else:
        difference = f"difference: {counted - sent} more (another client sent requests during the window)"
    return "\n".join(
        [
            f"requests sent:           {sent}",
            f"requests Serve counted:  {counted}",
            difference,
            f"errors counted: {int(sampler.increase(ERRORS))} | failed at the client: {traffic_summary['failed']}",
        ]
    )


def plot(rows: list[dict[str, Any]], title: str = "Ray Serve metrics", sent_rate: float | None = None):
    """Request rate, error rate, latency percentiles and replicas over time (``sent_rate``: the rate the
    client sent, drawn as a dashed line)."""
    import matplotlib.pyplot as plt

    t = [r["t"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    axes[0].plot(t, [r["requests_per_s"] for r in rows], label="requests/s")
    axes[0].plot(t, [r["errors_per_s"] for r in rows], label="errors/s", color="red")
    if sent_rate is not None:
        axes[0].axhline(sent_rate, linestyle="--", color="grey", label=f"sent: {sent_rate:g}/s")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("rate")
    axes[1].step(t, [r["p50_ms"] for r in rows], where="post", label="p50")
    axes[1].step(t, [r["p99_ms"] for r in rows], where="post", label="p99")
    axes[1].set_title("latency (ms, upper bucket edge)")
    axes[2].step(t, [r["replicas"] for r in rows], where="post", label="RUNNING (status)")
    axes[2].step(t, [r.get("healthy") for r in rows], where="post", linestyle="--", label="healthy (gauge)")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title("replicas")
    for ax in axes:
        ax.set_xlabel("seconds")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
