"""A load whose rate changes over time: the schedule follows the rate's integral, and Traffic sends it."""

from __future__ import annotations

import math

import pytest

from helpers.ramp import Ramp, Stage
from helpers.traffic import Traffic

from .test_traffic import FlakyServer


def sent_by(ramp: Ramp, t: float) -> float:
    """The rate's integral from 0 to t, summed in small steps (an independent check of the closed form)."""
    steps = 20000
    dt = t / steps
    return sum(ramp.rate_at((n + 0.5) * dt) * dt for n in range(steps))


def test_a_steady_stage_sends_at_its_rate():
    ramp = Ramp((Stage(10, 4, 4),))
    assert [ramp.due(i) for i in range(5)] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert ramp.requests == 41  # 0 s, 0.25 s, ... 10 s
    assert ramp.due(40) == pytest.approx(10) and ramp.due(41) is None


def test_a_rising_stage_follows_the_integral_of_its_rate():
    ramp = Ramp((Stage(10, 0, 10),))  # the integral is t**2 / 2
    assert [ramp.due(k) for k in (0, 2, 8, 18, 50)] == pytest.approx([0, 2, 4, 6, 10])
    assert ramp.rate_at(5) == pytest.approx(5)


RAMPS = {
    "up-hold-down": Ramp.up_hold_down(peak=30, up_s=8, hold_s=5, down_s=7, base=2),
    "down-up": Ramp((Stage(6, 12, 0.5), Stage(3, 0.5, 9))),
}


@pytest.mark.parametrize("ramp", RAMPS.values(), ids=RAMPS.keys())
def test_every_request_goes_out_when_the_integral_reaches_its_number(ramp):
    times = [ramp.due(i) for i in range(ramp.requests)]
    assert ramp.due(ramp.requests) is None
    assert times == sorted(times) and times[-1] <= ramp.seconds + 1e-9
    for i in range(0, ramp.requests, 7):
        assert sent_by(ramp, times[i]) == pytest.approx(i, abs=0.01)


def test_up_hold_down_has_three_stages_and_its_peak():
    ramp = Ramp.up_hold_down(peak=30, up_s=30, hold_s=60, down_s=30, base=2)
    assert ramp.seconds == 120 and ramp.peak == 30
    assert ramp.stage_bounds() == [(0, 30), (30, 90), (90, 120)]
    assert [ramp.rate_at(t) for t in (0, 15, 60, 105, 121)] == pytest.approx([2, 16, 30, 16, 0])
    assert ramp.requests == math.floor(16 * 30 + 30 * 60 + 16 * 30) + 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Ramp(()), "at least one stage"),
        (lambda: Ramp((Stage(0, 1, 2),)), "Stage 1 lasts 0 s: give each stage a positive duration"),
        (lambda: Ramp((Stage(5, 1, 2), Stage(5, 2, 500))), "Stage 2 has a rate of 500 .* from 0 to 200"),
        (lambda: Ramp((Stage(5, -1, 2),)), "rate of -1"),
        (lambda: Ramp((Stage(5, 1, 2), Stage(3, 0, 0))), "Stage 2 sends nothing"),
        (lambda: Ramp.up_hold_down(peak=1, base=5), "peak=1 must be above base=5"),
    ],
)
def test_a_bad_ramp_says_what_to_write_instead(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_traffic_sends_a_ramp_on_its_schedule():
    server = FlakyServer()
    try:
        ramp = Ramp((Stage(0.6, 10, 50),))
        traffic = Traffic(server.url, ["/hello"], ramp=ramp)
        with traffic:
            traffic.wait(5)
        records = traffic.records
        assert len(records) == ramp.requests == 19
        assert all(r.ok for r in records)
        for i, r in enumerate(records):
            assert r.t == pytest.approx(ramp.due(i), abs=0.15)  # sent on time (a busy machine adds a little)
        assert traffic.max_seconds == pytest.approx(0.6) and traffic.rate == 50
    finally:
        server.close()


def test_windows_give_the_rate_latency_and_failures_of_each_stretch_of_time(tmp_path):
    from helpers.load_windows import per_replica, plot, windows
    from helpers.traffic import Record

    records = [Record(t=i * 0.1, route="/hello", status=200, latency=0.010 + i * 0.001, attempts=1) for i in range(50)]
    records.append(Record(t=2.0, route="/hello", status=0, latency=0.0, attempts=1))
    found = windows(records, width=2.0)
    assert [w.start for w in found] == [0.0, 2.0, 4.0]
    assert [w.sent for w in found] == [20, 21, 10]  # the failed one, sent at 2.0 s, is in the second window
    assert [w.failed for w in found] == [0, 1, 0]
    assert found[0].rate == 10 and found[0].p50_ms == 20.0 and found[0].p99_ms == 29.0
    assert found[2].p99_ms == 59.0
    assert found[0].in_flight == pytest.approx(sum(0.010 + i * 0.001 for i in range(20)) / 2.0)  # Little's law
    # per replica: each window's in flight over the RUNNING replicas sampled before its middle (1 s, 3 s, 5 s)
    assert per_replica(found, [(0.0, 1, 1), (2.5, 2, 3), (4.0, 3, 3)]) == [
        (1.0, round(found[0].in_flight, 2)),
        (3.0, round(found[1].in_flight / 2, 2)),
        (5.0, round(found[2].in_flight / 3, 2)),
    ]
    assert per_replica(found, [(1.5, 1, 1)]) == [
        (3.0, round(found[1].in_flight, 2)),
        (5.0, round(found[2].in_flight, 2)),
    ]
    with pytest.raises(ValueError, match="positive width in seconds"):
        windows(records, width=0)
    plot(found, [(0.0, 1, 1), (2.5, 2, 3), (4.0, 3, 3)], title="ramp", path=str(tmp_path / "ramp.png"), target=2)
    assert (tmp_path / "ramp.png").stat().st_size > 0


def test_an_even_schedule_is_the_integral_reaching_each_whole_number():
    ramp = Ramp.up_hold_down(peak=12, up_s=10, hold_s=20, down_s=5)
    assert list(ramp.schedule()) == [ramp.due(i) for i in range(ramp.requests)]


def test_random_arrivals_keep_the_rate_on_average_and_repeat_with_their_seed():
    ramp = Ramp.up_hold_down(peak=12, up_s=10, hold_s=200, down_s=5, arrivals="poisson")
    times = list(ramp.schedule())
    assert times == list(ramp.schedule())  # seeded: the same run twice
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= ramp.seconds
    expected = sum(s.requests for s in ramp.stages)
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)  # a Poisson count: within 4 standard deviations
    hold = [t for t in times if 10 <= t < 210]
    assert abs(len(hold) - 2400) < 4 * math.sqrt(2400)
    gaps = [b - a for a, b in zip(hold, hold[1:], strict=False)]
    assert len(set(round(g, 3) for g in gaps)) > 100  # not one period: samples of the load see every phase
    assert list(Ramp(ramp.stages, "poisson", seed=1).schedule()) != times


def test_an_unknown_arrival_pattern_is_refused():
    with pytest.raises(ValueError, match="'even', 'poisson'"):
        Ramp.up_hold_down(peak=12, arrivals="random")
