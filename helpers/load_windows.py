"""A measured ramp cut into windows of time: the rate sent, the answers' p50/p99 and failures per window, and the
figure of the autoscaling lesson (load, replicas and latency on one time axis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers.traffic import percentile


@dataclass(frozen=True)
class Window:
    start: float  # seconds after the traffic started
    sent: int
    failed: int
    p50_ms: float | None
    p99_ms: float | None
    width: float
    busy_s: float = 0.0  # the seconds the requests sent in this window spent waiting for their answers, summed

    @property
    def rate(self) -> float:
        return self.sent / self.width

    @property
    def in_flight(self) -> float:
        """Requests open at once, on average (Little's law: the summed waits over the window's length)."""
        return self.busy_s / self.width


def windows(records: list[Any], width: float = 5.0) -> list[Window]:
    """``records`` (a Traffic's) grouped by the time they were sent into ``width``-second windows, in order; the
    latencies are those of the requests answered with 200."""
    if width <= 0:
        raise ValueError(f"width={width!r}: give the windows a positive width in seconds, e.g. 5")
    if not records:
        return []
    last = max(r.t for r in records)
    out = []
    for n in range(int(last // width) + 1):
        inside = [r for r in records if n * width <= r.t < (n + 1) * width]
        ok = sorted(r.latency * 1000 for r in inside if r.ok)
        out.append(
            Window(
                start=n * width,
                sent=len(inside),
                failed=sum(1 for r in inside if not r.ok),
                p50_ms=percentile(ok, 50),
                p99_ms=percentile(ok, 99),
                width=width,
                busy_s=sum(r.latency for r in inside),
            )
        )
    return out


def per_replica(found: list[Window], samples: list[tuple[float, int, int | None]]) -> list[tuple[float, float]]:
    """(window middle, requests in flight per RUNNING replica) for each window with a replica sample before its
    middle: the figure Serve's policy compares with ``target_ongoing_requests``."""
    out = []
    for w in found:
        mid = w.start + w.width / 2
        running = [r for t, r, _ in samples if t <= mid]
        if running and running[-1]:
            out.append((mid, round(w.in_flight / running[-1], 2)))
    return out


def plot(found: list[Window], samples: list[tuple[float, int, int | None]], title: str = "", path: str | None = None,
         target: float | None = None):  # fmt: skip
    """Three panels on one time axis: the rate sent; Serve's RUNNING and target replicas, with the requests in
    flight per RUNNING replica (and ``target``, ``target_ongoing_requests``, as a dotted line); p50/p99 per window."""
    import matplotlib.pyplot as plt

    fig, (load, reps, lat) = plt.subplots(3, 1, figsize=(9, 6.4), sharex=True)
    mids = [w.start + w.width / 2 for w in found]
    load.plot(mids, [w.rate for w in found], color="C0", marker=".")
    load.set_ylabel("requests/s sent")
    if samples:
        times = [t for t, _, _ in samples]
        reps.step(times, [r for _, r, _ in samples], where="post", color="C2", label="RUNNING")
        targets = [(t, target) for t, _, target in samples if target is not None]
        if targets:
            reps.step([t for t, _ in targets], [n for _, n in targets], where="post", color="grey", ls="--",
                      label="Serve's target")  # fmt: skip
        pairs = per_replica(found, samples)
        if pairs:
            reps.plot([m for m, _ in pairs], [v for _, v in pairs], color="C4", marker=".", lw=0.8,
                      label="in flight per replica")  # fmt: skip
        if target is not None:
            reps.axhline(target, color="C4", ls=":", lw=0.8, label="target_ongoing_requests")
        reps.legend(loc="upper left", fontsize=8)
    reps.set_ylabel("replicas / requests")
    for name, key, colour in (("p50", "p50_ms", "C1"), ("p99", "p99_ms", "C3")):
        pts = [(m, getattr(w, key)) for m, w in zip(mids, found, strict=True) if getattr(w, key) is not None]
        lat.plot([m for m, _ in pts], [v for _, v in pts], color=colour, marker=".", label=name)
    failed = [(m, w.failed) for m, w in zip(mids, found, strict=True) if w.failed]
    if failed:
        lat.scatter([m for m, _ in failed], [1] * len(failed), marker="x", color="red", label="window with failures")
    lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.set_xlabel("seconds")
    lat.legend(loc="upper left", fontsize=8)
    if title:
        load.set_title(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=100)
    return fig
