"""What Serve's autoscaler makes of a steady load, and what it did under a real one (the autoscaling lesson and lab).

Serve's default policy (``ray.serve.autoscaling_policy.replica_queue_length_autoscaling_policy``) wants
``ongoing requests / target_ongoing_requests`` replicas, rounded up, kept within ``[min_replicas, max_replicas]``
(after ``upscale_delay_s`` of wanting more, ``downscale_delay_s`` of wanting fewer). Under a steady load the
ongoing requests are the rate times the seconds each request takes (Little's law): 30 requests a second of
0.2 s each keep 6 requests open, which at a target of 2 per replica want 3 replicas.

    config = autoscaling_config({"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2})
    steady_replicas(rate=30, seconds_per_request=0.2, config=config)   # 3
    with ReplicaTimeline(lambda: replica_counts(backend.serve_details(), "hello", "Hello")) as timeline:
        ...
    timeline.samples   # [(seconds, running, target), ...]
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from helpers import status as status_mod
from helpers.i18n import _


def autoscaling_config(raw: dict[str, Any]) -> Any:
    """``raw`` (a deployment's ``autoscaling_config``) read with Serve's own model; a ValueError names each wrong
    field, and a key Serve does not know (which Serve would ignore without a word)."""
    from ray.serve.config import AutoscalingConfig  # Ray is heavy: imported when used

    if not isinstance(raw, dict):
        raise ValueError(f"autoscaling_config must be a mapping of options, e.g. {EXAMPLE}; got {raw!r}.")
    unknown = sorted(set(raw) - set(AutoscalingConfig.model_fields))
    if unknown:
        raise ValueError(
            f"autoscaling_config has {', '.join(map(repr, unknown))}, which Serve does not know (it would ignore "
            f"them). Its options: {', '.join(sorted(AutoscalingConfig.model_fields))}."
        )
    try:
        return AutoscalingConfig(**raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the config'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"autoscaling_config is not valid for Serve: {problems}. For example: {EXAMPLE}.") from None


EXAMPLE = "{min_replicas: 1, max_replicas: 4, target_ongoing_requests: 2}"

# Lesson 07's load and config, which `make bench` measures too (the lesson's parameters cell says the same:
# tests/unit/test_autoscaling.py checks it). Why these values: the lesson's Step 1.
LESSON = {
    "work_ms": 500,
    "autoscaling": {
        "min_replicas": 1,
        "max_replicas": 4,
        "target_ongoing_requests": 2,
        "upscale_delay_s": 15,
        "downscale_delay_s": 15,
        "look_back_period_s": 15,
    },
    "peak": 10,
    "up_s": 90,
    "hold_s": 30,
    "down_s": 15,
}


def ongoing(rate: float, seconds_per_request: float) -> float:
    """Requests open at once under a steady ``rate`` (requests per second) of requests that take
    ``seconds_per_request`` each (Little's law)."""
    return rate * seconds_per_request


def seconds_per_request(url: str, n: int = 5, timeout: float = 10.0) -> float:
    """What one request to ``url`` costs with nothing else running: the median of ``n`` sent one after another."""
    import requests

    took = []
    for _n in range(n):
        start = time.perf_counter()
        requests.get(url, timeout=timeout).raise_for_status()
        took.append(time.perf_counter() - start)
    return sorted(took)[len(took) // 2]


def steady_replicas(rate: float, seconds_per_request: float, config: Any) -> int:
    """The replicas Serve's default policy settles on under a steady load (``config``: ``autoscaling_config()``)."""
    wanted = math.ceil(ongoing(rate, seconds_per_request) / config.get_target_ongoing_requests() - 1e-9)
    return min(max(wanted, config.min_replicas), config.max_replicas)


def replica_counts(details: dict[str, Any], app: str, deployment: str) -> tuple[int, int | None]:
    """(RUNNING replicas, Serve's target) of one deployment in Serve's report (``backend.serve_details()``)."""
    apps = status_mod.application_statuses(details)
    dep = ((apps.get(app) or {}).get("serveDeploymentStatuses") or {}).get(deployment) or {}
    return (dep.get("replicaStates") or {}).get("RUNNING", 0), dep.get("targetReplicas")


class ReplicaTimeline:
    """Samples ``count()`` (e.g. ``replica_counts`` of one deployment) every ``interval`` seconds in a thread, from
    ``start`` (a ``time.monotonic()`` value, e.g. a Traffic's ``start_time``; default: when it starts) on. A sample
    that fails (Serve's API busy for a moment) is skipped, not fatal."""

    def __init__(self, count: Callable[[], tuple[int, int | None]], interval: float = 1.0, start: float | None = None):
        self.count = count
        self.interval = interval
        self.start = start
        self.samples: list[tuple[float, int, int | None]] = []
        self.misses = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ReplicaTimeline:
        if self.start is None:
            self.start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="replica-timeline", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                running, target = self.count()
            except Exception:  # noqa: BLE001 - one missed sample must not end the measurement
                self.misses += 1
            else:
                self.samples.append((round(time.monotonic() - self.start, 2), running, target))
            self._stop.wait(self.interval)


def autoscaled(manifest: Any, config: dict[str, Any], work_ms: float, app: str = "hello", deployment: str = "Hello"):
    """A copy of ``manifest`` whose ``deployment`` scales itself with ``config`` (checked by Serve's model first)
    and whose requests each take ``work_ms`` (hello's ``user_config``). ``num_replicas: auto`` lets Serve choose."""
    from helpers import manifests

    autoscaling_config(config)
    if not 0 <= work_ms <= 5000:
        raise ValueError(f"work_ms={work_ms!r}: give each request 0 to 5000 ms of work, e.g. 200.")
    user_config = {"greeting": "Hello", "work_ms": work_ms}
    return manifests.with_deployment_options(
        manifest, app, deployment, num_replicas="auto", autoscaling_config=dict(config), user_config=user_config
    )


@dataclass
class RampRun:
    """What one ramp did: the traffic (its records), Serve's replica samples, and the figures drawn from them."""

    traffic: Any
    samples: list[tuple[float, int, int | None]]
    min_replicas: int
    load_end_s: float  # when the ramp's last request went out, seconds after the start

    @property
    def peak(self) -> int:
        return max((running for _, running, _ in self.samples), default=0)

    @property
    def scale_up_s(self) -> float | None:
        """Seconds from the start until RUNNING first reached its peak."""
        return next((t for t, running, _ in self.samples if running == self.peak), None)

    @property
    def scale_down_s(self) -> float | None:
        """Seconds from the end of the load until RUNNING was back at ``min_replicas`` (None: not within the run)."""
        back = [
            t
            for t, running, target in self.samples
            if t >= self.load_end_s and running <= self.min_replicas and (target or 0) <= self.min_replicas
        ]
        return round(back[0] - self.load_end_s, 1) if back else None

    def reached_s(self, replicas: int) -> float | None:
        """Seconds from the start until ``replicas`` (or more) were RUNNING (None: never)."""
        return next((t for t, running, _ in self.samples if running >= replicas), None)

    def reactions(
        self, ramp: Any, seconds_per_request: float, config: Any
    ) -> list[tuple[int, float | None, float | None]]:
        """For each replica count above ``min_replicas`` up to the peak: (count, when the load first needed it by
        Serve's rule at steady state, when it first ran), in seconds after the start (None: never)."""
        top = max(self.peak, steady_replicas(ramp.peak, seconds_per_request, config))
        out = []
        for n in range(config.min_replicas + 1, top + 1):
            needed = next(
                (t / 10 for t in range(int(ramp.seconds * 10) + 1)
                 if steady_replicas(ramp.rate_at(t / 10), seconds_per_request, config) >= n),
                None,
            )  # fmt: skip
            out.append((n, needed, self.reached_s(n)))
        return out

    def reactions_table(self, ramp: Any, seconds_per_request: float, config: Any) -> str:
        """``reactions()`` as a table: each count, when the load needed it, when it ran, how much later."""
        from helpers import display

        def when(t: float | None) -> str:
            return f"{t:.0f} s" if t is not None else "never"

        rows = [
            (n, when(needed), when(ran), f"{ran - needed:.0f} s" if None not in (needed, ran) else "")
            for n, needed, ran in self.reactions(ramp, seconds_per_request, config)
        ]
        return display.table(("replicas", "needed from", "running from", "later by"), rows)

    def report(self) -> str:
        """The run in two lines: the replicas (peak, when; back at the minimum, when) and the requests."""
        f = self.figures()
        down = (
            _("back to {min} {seconds} s after the load", min=self.min_replicas, seconds=f["scale_down_s"])
            if f["scale_down_s"] is not None
            else _("not back to {min} within the wait", min=self.min_replicas)
        )
        return "\n".join(
            (
                _(
                    "replicas: {min} -> peak {peak} ({seconds} s after the start); {down}",
                    min=self.min_replicas,
                    peak=f["peak_replicas"],
                    seconds=f["scale_up_s"],
                    down=down,
                ),  # fmt: skip
                _(
                    "requests: {sent} sent, {failed} failed; p50 {p50} ms, p99 {p99} ms",
                    sent=f["sent"],
                    failed=f["failed"],
                    p50=f["p50_ms"],
                    p99=f["p99_ms"],
                ),  # fmt: skip
                *(_("failed, sent at {failure}", failure=failure) for failure in self.failures()[:5]),
            )
        )

    def failures(self) -> list[str]:
        """Each failed request: when it was sent (seconds after the start), and its status or error."""
        return [
            f"{r.t:.0f} s, " + (f"HTTP {r.status} {r.error[:60]}".strip() if r.status else r.error[:100])
            for r in self.traffic.records
            if not r.ok
        ]

    def figures(self) -> dict[str, Any]:
        summary = self.traffic.summary()
        return {
            "sent": summary["sent"],
            "failed": summary["failed"],
            "p50_ms": summary["p50_ms"],
            "p99_ms": summary["p99_ms"],
            "peak_replicas": self.peak,
            "scale_up_s": self.scale_up_s,
            "scale_down_s": self.scale_down_s,
        }


def run_ramp(backend: Any, ramp: Any, config: Any, route: str = "/hello", app: str = "hello",
             deployment: str = "Hello", settle_s: float = 120.0) -> RampRun:  # fmt: skip
    """Wait until Serve runs ``config.min_replicas`` of ``deployment`` (a deployment that had more keeps them for
    ``downscale_delay_s``), then send ``ramp`` (``helpers.ramp.Ramp``) to ``route`` while sampling its replicas
    every second, then keep sampling (showing progress) until they are back at ``config.min_replicas`` or
    ``settle_s`` has passed. ``config``: ``autoscaling_config()`` of what was applied."""
    from helpers.progress import wait_for
    from helpers.traffic import Traffic

    def count() -> tuple[int, int | None]:
        return replica_counts(backend.serve_details(), app, deployment)

    def at_min(running: int | None, target: int | None) -> tuple[bool, str]:
        back = running is not None and running <= config.min_replicas and (target or 0) <= config.min_replicas
        return back, _("{running} RUNNING, Serve's target {target}", running=running, target=target)

    before = _("{deployment} at {min} replica(s) before the load", deployment=deployment, min=config.min_replicas)
    wait_for(before, lambda: at_min(*count()), settle_s, interval=1.0)
    traffic = Traffic(backend.serve_url, [route], ramp=ramp).start()
    try:
        with ReplicaTimeline(count, start=traffic.start_time) as timeline:

            def last() -> tuple[int | None, int | None]:
                return timeline.samples[-1][1:] if timeline.samples else (None, None)

            def ramp_done() -> tuple[bool, str]:
                t = traffic.now()
                running, target = last()
                answered = sum(1 for r in traffic.records if r.t > t - 5) / 5
                return traffic.finished, _(
                    "{rate} requests/s now, {answered} answered/s (last 5 s), {in_flight} in flight, {running} "
                    "RUNNING (Serve's target {target})",
                    rate=f"{ramp.rate_at(t):.1f}",
                    answered=f"{answered:.1f}",
                    in_flight=traffic.in_flight,
                    running=running,
                    target=target,
                )

            wait_for(_("the ramp ({seconds} s)", seconds=f"{ramp.seconds:.0f}"), ramp_done, ramp.seconds + 30, 1.0)
            traffic.stop()  # and waits for the answers
            load_end = max((r.t for r in traffic.records), default=traffic.now())
            back = _("{deployment} back to {min} replica(s)", deployment=deployment, min=config.min_replicas)
            try:
                wait_for(back, lambda: at_min(*last()), settle_s, interval=1.0)
            except TimeoutError:
                pass  # scale_down_s is then None: the caller decides whether that is a failure
    finally:
        traffic.stop()
    return RampRun(traffic, timeline.samples, config.min_replicas, round(load_end, 1))
