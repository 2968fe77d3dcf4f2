"""A load that changes over time: stages of linearly rising, steady or falling request rates (the autoscaling lesson).

    ramp = Ramp.up_hold_down(peak=30, up_s=30, hold_s=60, down_s=30)
    with Traffic(backend.serve_url, ["/hello"], ramp=ramp) as traffic:
        ...

Requests are sent on a schedule computed from the rate (open loop, as users arrive: a slow answer does not slow
the next request). ``arrivals="even"``: request ``i`` goes out when the rate's integral from the start reaches
``i``. ``arrivals="poisson"`` (seeded, so a run can be repeated): the gaps are random, as independent users' are,
with the same rate on average (the integral reaches a sum of exponential draws). Measure an autoscaler with
``"poisson"``: Serve samples the requests in flight every ``0.2 * look_back_period_s`` seconds, and an even
schedule whose period divides that interval shows every sample the same phase (at 12 requests a second of 0.21 s
each, 2.5 in flight on average, Serve saw exactly 2.0 for a whole minute).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

MAX_RATE = 200.0  # requests per second: what one Traffic client sends at most (its thread pool's bound)


@dataclass(frozen=True)
class Stage:
    """``seconds`` of load whose rate goes linearly from ``start_rate`` to ``end_rate`` (requests per second)."""

    seconds: float
    start_rate: float
    end_rate: float

    @property
    def requests(self) -> float:
        return (self.start_rate + self.end_rate) / 2 * self.seconds

    def rate_at(self, t: float) -> float:
        return self.start_rate + (self.end_rate - self.start_rate) * t / self.seconds

    def time_of(self, k: float) -> float:
        """Seconds into the stage when ``k`` requests (0 <= k <= ``requests``) have been due. The integral is
        ``a t + b t**2 / 2`` (a the start rate, b the slope); this root form holds for b of either sign, or 0."""
        a = self.start_rate
        b = (self.end_rate - self.start_rate) / self.seconds
        if k <= 0:
            return 0.0
        return 2 * k / (a + math.sqrt(max(a * a + 2 * b * k, 0.0)))


ARRIVALS = ("even", "poisson")


@dataclass(frozen=True)
class Ramp:
    stages: tuple[Stage, ...]
    arrivals: str = "even"
    seed: int = 0  # of the random gaps (arrivals="poisson")

    def __post_init__(self) -> None:
        if self.arrivals not in ARRIVALS:
            raise ValueError(f"arrivals={self.arrivals!r}: write one of {', '.join(map(repr, ARRIVALS))}.")
        if not self.stages:
            raise ValueError("A ramp needs at least one stage, e.g. Ramp.up_hold_down(peak=30).")
        for n, s in enumerate(self.stages, 1):
            if not s.seconds > 0:
                raise ValueError(f"Stage {n} lasts {s.seconds!r} s: give each stage a positive duration.")
            for rate in (s.start_rate, s.end_rate):
                if not 0 <= rate <= MAX_RATE:
                    raise ValueError(
                        f"Stage {n} has a rate of {rate!r} requests per second: choose rates from 0 to {MAX_RATE:.0f}."
                    )
            if s.requests <= 0:
                raise ValueError(f"Stage {n} sends nothing (its rates are 0): leave it out, or give it a rate.")

    @classmethod
    def up_hold_down(
        cls,
        peak: float,
        up_s: float = 30.0,
        hold_s: float = 60.0,
        down_s: float = 30.0,
        base: float = 1.0,
        arrivals: str = "even",
    ) -> Ramp:
        """From ``base`` up to ``peak`` in ``up_s`` seconds, ``peak`` for ``hold_s``, back to ``base`` in ``down_s``."""
        if not base < peak:
            raise ValueError(f"peak={peak!r} must be above base={base!r} (requests per second).")
        return cls((Stage(up_s, base, peak), Stage(hold_s, peak, peak), Stage(down_s, peak, base)), arrivals)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    @property
    def peak(self) -> float:
        return max(max(s.start_rate, s.end_rate) for s in self.stages)

    @property
    def requests(self) -> int:
        """How many requests the whole ramp sends."""
        return math.floor(sum(s.requests for s in self.stages) + 1e-9) + 1  # request 0 goes at t = 0

    def rate_at(self, t: float) -> float:
        """The rate the schedule follows ``t`` seconds after the start (0 after the end)."""
        start = 0.0
        for s in self.stages:
            if t < start + s.seconds:
                return s.rate_at(max(t - start, 0.0))
            start += s.seconds
        return 0.0

    def due(self, i: int) -> float | None:
        """When request ``i`` (from 0) goes out, in seconds after the start; None if the ramp is over by then."""
        before, start = 0.0, 0.0
        for s in self.stages:
            if i <= before + s.requests + 1e-9:
                return start + s.time_of(i - before)
            before += s.requests
            start += s.seconds
        return None

    def schedule(self) -> Iterator[float]:
        """When each request goes out, in seconds after the start, until the ramp is over."""
        rng = random.Random(self.seed)
        k = 0.0
        while True:
            due = self.due(k)
            if due is None:
                return
            yield due
            k += 1.0 if self.arrivals == "even" else rng.expovariate(1.0)

    def stage_bounds(self) -> list[tuple[float, float]]:
        """(start, end) of each stage, in seconds after the start."""
        bounds, start = [], 0.0
        for s in self.stages:
            bounds.append((start, start + s.seconds))
            start += s.seconds
        return bounds
