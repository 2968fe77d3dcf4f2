"""Background HTTP load at a fixed rate, recording every request, for the fault and update lessons.

    with Traffic(backend.serve_url, ["/hello"], rate=20, retries=True) as traffic:
        traffic.mark("replica killed")
        ...
    print(traffic.summary())
    traffic.plot()

Requests go only to the URL given (127.0.0.1 in this tutorial). The load is bounded in time
(``max_seconds``) and count (``max_requests``) and stops by itself. With ``retries=True`` each
request is retried with exponential backoff (urllib3's ``Retry``) on connection errors and on
500/502/503/504, the way a well-behaved client of a RayService should.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from helpers.ramp import MAX_RATE, Ramp

RETRY_STATUSES = (500, 502, 503, 504)


@dataclass
class Record:
    t: float  # seconds after start, when the request was sent
    route: str
    status: int  # HTTP status; 0 = no answer (connection refused or reset, timeout)
    latency: float  # seconds, retries included
    attempts: int
    version: str | None = None
    replica: str | None = None
    pid: int | None = None
    answer: str | None = None  # what the client saw, e.g. "v1: Hello from RayService!" (ids left out)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


RETRIES = 16  # back-off 0, 0.1, 0.2 ... 3.2 s, then 4 s each: about 42 s of waiting before a request fails
BACKOFF_MAX_S = 4.0


def retry_budget_s() -> float:
    """Seconds a retrying request keeps trying a refused or failed connection before it gives up: the sum of
    urllib3's back-off sleeps for this policy. Serve's controller health-checks each proxy every 10 s and
    replaces it after 3 failed checks, so a killed proxy can leave its port refusing connections for about
    30 s; the budget outlasts that."""
    retry, slept = retry_policy(), 0.0
    for _ in range(RETRIES):
        retry = retry.increment(method="GET", url="/", error=ConnectionError("refused"))
        slept += retry.get_backoff_time()
    return slept


def retry_policy() -> Retry:
    return Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        backoff_factor=0.05,
        backoff_max=BACKOFF_MAX_S,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        raise_on_status=False,
    )


class Traffic:
    def __init__(
        self,
        base_url: str,
        routes: list[str] | tuple[str, ...] = ("/hello",),
        rate: float = 20.0,
        retries: bool = False,
        timeout: float = 5.0,
        max_seconds: float = 300.0,
        max_requests: int | None = None,
        new_connections: bool = False,
        ramp: Ramp | None = None,
    ):
        """``ramp``: a rate that changes over time (``helpers.ramp``) instead of the fixed ``rate``; the load then
        lasts the ramp's seconds.

        ``new_connections``: one TCP connection per request (``Connection: close``). On Kubernetes a kept-alive
        connection stays on the pod it reached, even after the Service points elsewhere (a replaced head pod, a
        promoted RayCluster); with a new connection per request, each request reaches whatever is behind the
        Service *now*, so a switch is measured when it happens."""
        if ramp is not None:  # random arrivals send about ramp.requests: the ramp's end bounds them, not a count
            rate, max_seconds = ramp.peak, ramp.seconds
            max_requests = ramp.requests if ramp.arrivals == "even" else 10 * ramp.requests
        if rate <= 0 or rate > MAX_RATE:
            raise ValueError(f"rate={rate!r}: choose a rate between 0 and {MAX_RATE:.0f} requests per second")
        self.base_url = base_url.rstrip("/")
        self.routes = list(routes)
        self.rate = rate
        self.retries = retries
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.max_requests = max_requests if max_requests is not None else int(rate * max_seconds)
        self.new_connections = new_connections
        self.ramp = ramp
        self.events: list[tuple[float, str]] = []
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.start_time = 0.0
        self._submitted = 0

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> Traffic:
        if self._thread is not None:
            raise RuntimeError("this Traffic was already started; create a new one")
        self.start_time = time.monotonic()
        self._pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="traffic")
        self._thread = threading.Thread(target=self._schedule, name="traffic-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending and wait for the requests in flight (each is bounded by its timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def now(self) -> float:
        return time.monotonic() - self.start_time

    def mark(self, label: str) -> float:
        """Record an event (fault injected, update applied, healthy again) at the current time."""
        t = self.now()
        self.events.append((t, label))
        return t

    def wait(self, seconds: float) -> None:
        """Let traffic run for ``seconds`` (returns early if the load hit its bounds)."""
        self._stop.wait(seconds)

    # -- sending -----------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=retry_policy() if self.retries else Retry(0, read=False))
            session.mount("http://", adapter)
            self._local.session = session
        return session

    def _schedule(self) -> None:
        i = 0
        times = self.ramp.schedule() if self.ramp is not None else (n / self.rate for n in itertools.count())
        for due in times:
            if self._stop.is_set() or i >= self.max_requests or due > self.max_seconds:
                break
            delay = due - self.now()
            if delay > 0 and self._stop.wait(delay):
                break
            route = self.routes[i % len(self.routes)]
            self._pool.submit(self._send, route, self.now())
            i += 1
            self._submitted = i
        self._stop.set()

    def _send(self, route: str, sent: float) -> None:
        started = time.monotonic()
        record = Record(t=sent, route=route, status=0, latency=0.0, attempts=1)
        try:
            headers = {"Connection": "close"} if self.new_connections else None
            response = self._session().get(self.base_url + route, timeout=self.timeout, headers=headers)
            record.status = response.status_code
            history = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
            record.attempts = 1 + len(history)
            if response.ok:
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                record.version = body.get("version") or body.get("model_version")
                record.replica = body.get("replica")
                record.pid = body.get("pid")
                said = body.get("message", body.get("prediction"))
                record.answer = f"{record.version}: {said}" if said is not None else record.version
            else:
                record.error = response.text[:200]
        except requests.RequestException as exc:
            record.error = f"{type(exc).__name__}: {str(exc)[:200]}"
            record.attempts = 1 + (len(self._retry_history(exc)) if self.retries else 0)
        record.latency = time.monotonic() - started
        with self._lock:
            self._records.append(record)

    @staticmethod
    def _retry_history(exc: Exception) -> tuple:
        reason = getattr(getattr(exc, "args", [None])[0], "reason", None)
        return getattr(getattr(reason, "retries", None), "history", ()) or ()

    # -- results -----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the load is over: its last request sent (or ``stop()`` called)."""
        return self._stop.is_set()

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet (the concurrency the load keeps open)."""
        with self._lock:
            return self._submitted - len(self._records)

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return sorted(self._records, key=lambda r: r.t)

    def summary(self) -> dict[str, Any]:
        records = self.records
        failed = [r for r in records if not r.ok]
        latencies = sorted(r.latency * 1000 for r in records if r.ok)

        versions: dict[str, int] = {}
        for r in records:
            if r.ok and r.version:
                versions[r.version] = versions.get(r.version, 0) + 1
        return {
            "sent": len(records),
            "ok": len(records) - len(failed),
            "failed": len(failed),
            "retried": sum(1 for r in records if r.attempts > 1),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "median_ms": round(statistics.median(latencies), 1) if latencies else None,
            "first_failure_s": round(failed[0].t, 2) if failed else None,
            "last_failure_s": round(failed[-1].t, 2) if failed else None,
            "failures_by_status": _count(r.status for r in failed),
            "versions": versions,
        }

    def first_answer(self, version: str) -> float | None:
        """When ``version`` answered its first request (seconds after start), if it did."""
        return next((r.t for r in self.records if r.ok and r.version == version), None)

    def last_answer(self, version: str) -> float | None:
        """When ``version`` answered its last request (seconds after start, by the time it was sent), if it did."""
        return next((r.t for r in reversed(self.records) if r.ok and r.version == version), None)

    def overlap(self, old: str, new: str) -> dict[str, Any]:
        """How long ``old`` and ``new`` both answered, from the record: the first request ``new`` answered, the
        last one ``old`` answered (both by the time they were sent), the window between them (0 for a hard
        switch), and how many answers of each version fall inside that window."""
        first_new, last_old = self.first_answer(new), self.last_answer(old)
        if first_new is None or last_old is None or last_old < first_new:
            return {"first_new_s": first_new, "last_old_s": last_old, "overlap_s": 0.0, "answers_in_window": {}}
        inside = [r for r in self.records if r.ok and first_new <= r.t <= last_old and r.version in (old, new)]
        return {
            "first_new_s": round(first_new, 2),
            "last_old_s": round(last_old, 2),
            "overlap_s": round(last_old - first_new, 2),
            "answers_in_window": _count(r.version for r in inside),
        }

    def overlapping(self, start: float, end: float) -> int:
        """How many requests were in flight at some moment between ``start`` and ``end`` (seconds after
        start): sent before ``end`` and not yet answered at ``start``."""
        return sum(1 for r in self.records if r.t <= end and r.t + r.latency >= start)

    def outage(self) -> tuple[float, float] | None:
        """(first, last) failed request, by the time they were sent; None when none failed."""
        failed = [r.t for r in self.records if not r.ok]
        return (round(failed[0], 2), round(failed[-1], 2)) if failed else None

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.records]

    def plot(self, title: str = "", path: str | None = None):
        """Latency of every request over time (colour = version, red x = failed), events marked."""
        import matplotlib.pyplot as plt

        records = self.records
        fig, ax = plt.subplots(figsize=(9, 3.2))
        versions = sorted({r.version or "?" for r in records if r.ok})
        for i, version in enumerate(versions):
            pts = [r for r in records if r.ok and (r.version or "?") == version]
            ax.scatter([r.t for r in pts], [r.latency * 1000 for r in pts], s=8, color=f"C{i}", label=f"ok: {version}")
        bad = [r for r in records if not r.ok]
        if bad:
            ax.scatter(
                [r.t for r in bad],
                [max(r.latency * 1000, 1) for r in bad],
                s=30,
                marker="x",
                color="red",
                label=f"failed ({len(bad)})",
            )
        for t, label in self.events:
            ax.axvline(t, color="grey", linestyle="--", linewidth=1)
            ax.annotate(
                label,
                (t, 1),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color="dimgrey",
            )
        ax.set_yscale("log")
        ax.set_xlabel("seconds")
        ax.set_ylabel("latency (ms)")
        ax.set_title(title or f"{self.rate:g} req/s, retries {'on' if self.retries else 'off'}")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=100)
        return fig


def percentile(ordered: list[float], p: float) -> float | None:
    """The ``p`` th percentile of ``ordered`` (sorted ascending; the value at index p% of the count, the last at
    most), rounded to 0.1; None for no values."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out
