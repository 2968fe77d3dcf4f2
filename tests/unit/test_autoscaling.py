"""The steady-state replicas the lesson predicts agree with Serve's own autoscaling policy; configs are read with
Serve's model; the replica timeline samples in the background."""

from __future__ import annotations

import itertools
import math
import time

import pytest

from helpers.autoscaling import ReplicaTimeline, autoscaling_config, ongoing, replica_counts, steady_replicas


def serve_policy_replicas(total_ongoing: float, current: int, config) -> int:
    """What Serve's default policy asks for (its float, rounded up as Serve's scaling step does, within bounds)."""
    from ray.serve._private.common import DeploymentID
    from ray.serve.autoscaling_policy import replica_queue_length_autoscaling_policy
    from ray.serve.config import AutoscalingContext

    ctx = AutoscalingContext(
        deployment_id=DeploymentID(name="Hello", app_name="hello"),
        deployment_name="Hello",
        app_name="hello",
        current_num_replicas=current,
        target_num_replicas=current,
        running_replicas=[],
        total_num_requests=total_ongoing,
        total_queued_requests=0,
        aggregated_metrics={},
        raw_metrics={},
        capacity_adjusted_min_replicas=config.min_replicas,
        capacity_adjusted_max_replicas=config.max_replicas,
        policy_state={},
        last_scale_up_time=None,
        last_scale_down_time=None,
        current_time=None,
        config=config,
        total_pending_async_requests=0,
    )
    desired, _ = replica_queue_length_autoscaling_policy(ctx)
    return min(max(math.ceil(desired - 1e-9), config.min_replicas), config.max_replicas)


@pytest.mark.parametrize(
    ("rate", "seconds", "target", "bounds"),
    list(itertools.product([5, 20, 30, 47.5], [0.05, 0.2, 0.35], [1, 2, 3.5], [(1, 4), (2, 8), (1, 1)])),
)
def test_the_steady_state_is_what_serves_policy_settles_on(rate, seconds, target, bounds):
    config = autoscaling_config(
        {"min_replicas": bounds[0], "max_replicas": bounds[1], "target_ongoing_requests": target}
    )
    expected = steady_replicas(rate, seconds, config)
    # Serve's policy, from any current count, asks for the same replicas (it depends on the load alone).
    for current in range(1, 5):
        assert serve_policy_replicas(ongoing(rate, seconds), current, config) == expected


def test_the_lessons_example():
    config = autoscaling_config({"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2})
    assert ongoing(30, 0.2) == pytest.approx(6)
    assert steady_replicas(30, 0.2, config) == 3
    assert steady_replicas(100, 0.2, config) == 4  # capped at max_replicas
    assert steady_replicas(1, 0.2, config) == 1  # never below min_replicas


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_replica": 4}, r"'max_replica', which Serve does not know .* max_replicas"),
        ({"min_replicas": 5, "max_replicas": 2}, "max_replicas \\(2\\) must be greater than or equal to min_replicas"),
        ({"target_ongoing_requests": -1}, "target_ongoing_requests: Input should be greater than 0"),
        ("auto", "must be a mapping of options, e.g. {min_replicas: 1"),
    ],
)
def test_a_bad_config_names_the_field_and_shows_a_good_one(raw, message):
    with pytest.raises(ValueError, match=message):
        autoscaling_config(raw)


def test_replica_counts_reads_running_replicas_and_the_target():
    details = {
        "applications": {
            "hello": {
                "deployments": {
                    "Hello": {
                        "target_num_replicas": 3,
                        "replicas": [{"state": "RUNNING"}, {"state": "STARTING"}, {"state": "RUNNING"}],
                    }
                }
            }
        }
    }
    assert replica_counts(details, "hello", "Hello") == (2, 3)
    assert replica_counts(details, "hello", "Other") == (0, None)
    assert replica_counts({}, "hello", "Hello") == (0, None)


def test_the_timeline_samples_in_the_background_and_survives_a_failed_sample():
    counts = iter([(1, 1), (2, 3), RuntimeError("busy"), (3, 3), (3, 3), (1, 1)])

    def count():
        value = next(counts, (1, 1))
        if isinstance(value, Exception):
            raise value
        return value

    with ReplicaTimeline(count, interval=0.02) as timeline:
        time.sleep(0.5)
    assert timeline.misses == 1
    running = [r for _, r, _ in timeline.samples]
    assert running[:5] == [1, 2, 3, 3, 1]
    assert max(running for _, running, _ in timeline.samples) == 3
    times = [t for t, _, _ in timeline.samples]
    assert times == sorted(times)


def test_autoscaled_lets_serve_choose_the_replicas_and_gives_each_request_its_work():
    from helpers import manifests
    from helpers.autoscaling import autoscaled

    base = manifests.load_manifest("manifests/ray-service.yaml")
    config = {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 1}
    edited = autoscaled(base, config, work_ms=200)
    hello = next(a for a in edited.serve_config["applications"] if a["name"] == "hello")
    deployment = hello["deployments"][0]
    assert deployment["num_replicas"] == "auto" and deployment["autoscaling_config"] == config
    assert deployment["user_config"] == {"greeting": "Hello", "work_ms": 200}
    with pytest.raises(ValueError, match="max_replica"):  # Serve's model names what it does not know
        autoscaled(base, {"max_replica": 4}, work_ms=200)
    with pytest.raises(ValueError, match="0 to 5000 ms"):
        autoscaled(base, config, work_ms=-1)


class _Records:
    def __init__(self, summary, records=()):
        self._summary = summary
        self.records = list(records)

    def summary(self):
        return self._summary


def test_a_ramps_figures_come_from_its_samples():
    from helpers.autoscaling import RampRun

    samples = [(0.0, 1, 1), (10.0, 1, 3), (14.0, 3, 3), (40.0, 3, 3), (46.0, 3, 1), (52.5, 1, 1)]
    run = RampRun(_Records({"sent": 500, "failed": 0, "p50_ms": 214.0, "p99_ms": 240.0}), samples, 1, 40.0)
    assert (run.peak, run.scale_up_s, run.scale_down_s) == (3, 14.0, 12.5)
    assert run.figures() == {"sent": 500, "failed": 0, "p50_ms": 214.0, "p99_ms": 240.0, "peak_replicas": 3,
                             "scale_up_s": 14.0, "scale_down_s": 12.5}  # fmt: skip
    # still above min_replicas at the end, or down in RUNNING while Serve's target is not: no scale-down figure
    assert RampRun(_Records({}), samples[:4], 1, 40.0).scale_down_s is None
    assert RampRun(_Records({}), [*samples[:4], (45.0, 1, 3)], 1, 40.0).scale_down_s is None


def test_a_ramps_report_says_the_peak_the_way_back_and_the_requests():
    from helpers.autoscaling import RampRun

    samples = [(0.0, 1, 1), (10.0, 1, 3), (14.0, 3, 3), (40.0, 3, 3), (46.0, 3, 1), (52.5, 1, 1)]
    from helpers.traffic import Record

    failed = [
        Record(t=31.6, route="/hello", status=0, latency=5.0, attempts=1, error="ReadTimeout: read timed out"),
        Record(t=33.0, route="/hello", status=503, latency=0.1, attempts=1, error="no replica"),
    ]
    ok = Record(t=1.0, route="/hello", status=200, latency=0.2, attempts=1)
    summary = {"sent": 500, "failed": 2, "p50_ms": 214.0, "p99_ms": 240.0}
    run = RampRun(_Records(summary, [ok, *failed]), samples, 1, 40.0)
    assert run.report() == (
        "replicas: 1 -> peak 3 (14.0 s after the start); back to 1 12.5 s after the load\n"
        "requests: 500 sent, 2 failed; p50 214.0 ms, p99 240.0 ms\n"
        "failed, sent at 32 s, ReadTimeout: read timed out\n"
        "failed, sent at 33 s, HTTP 503 no replica"
    )
    assert "not back to 1 within the wait" in RampRun(_Records(run.traffic.summary()), samples[:4], 1, 40.0).report()


def test_one_requests_cost_is_the_median_of_a_few_sent_one_after_another():
    from helpers.autoscaling import seconds_per_request
    from tests.unit.test_traffic import FlakyServer

    server = FlakyServer()
    try:
        server.delay = 0.05
        took = seconds_per_request(server.url + "/hello", n=3)
        assert server.hits == 3 and 0.05 <= took < 0.5
        server.failing.set()
        with pytest.raises(Exception, match="503"):
            seconds_per_request(server.url + "/hello", n=1)
    finally:
        server.close()


def test_reactions_say_when_the_load_needed_each_replica_and_when_it_ran():
    from helpers.autoscaling import RampRun
    from helpers.ramp import Ramp

    config = autoscaling_config({"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2})
    ramp = Ramp.up_hold_down(peak=10, up_s=90, hold_s=30, down_s=15)  # 1 -> 10 requests/s in 90 s
    samples = [(0.0, 1, 1), (70.0, 2, 2), (92.0, 3, 3), (128.0, 4, 4), (140.0, 1, 1)]
    run = RampRun(_Records({}), samples, 1, 135.0)
    # at 0.5 s a request, the load needs 2 replicas above 4 requests/s (t > 30 s), 3 above 8 (t > 70 s); never 4
    assert run.reactions(ramp, 0.5, config) == [(2, 30.1, 70.0), (3, 70.1, 92.0), (4, None, 128.0)]
    assert run.reached_s(5) is None
    table = run.reactions_table(ramp, 0.5, config).splitlines()
    assert table[0].split() == ["replicas", "needed", "from", "running", "from", "later", "by"]
    assert [line.split() for line in table[2:]] == [
        ["2", "30", "s", "70", "s", "40", "s"],
        ["3", "70", "s", "92", "s", "22", "s"],
        ["4", "never", "128", "s"],
    ]
    # a run that never scaled: the counts the load needed, none of them reached
    quiet = RampRun(_Records({}), [(0.0, 1, 1)], 1, 135.0)
    assert quiet.reactions(ramp, 0.5, config) == [(2, 30.1, None), (3, 70.1, None)]


def test_the_lesson_runs_the_load_and_config_the_bench_measures():
    import nbformat

    from helpers import config
    from helpers.autoscaling import LESSON

    nb = nbformat.read(config.NOTEBOOKS_DIR / "07_autoscaling.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params: dict = {}
    exec(cell.source, params)  # the lesson's parameters cell: assignments only
    assert {
        "work_ms": params["WORK_MS"],
        "autoscaling": params["AUTOSCALING"],
        "peak": params["PEAK"],
        "up_s": params["UP_S"],
        "hold_s": params["HOLD_S"],
        "down_s": params["DOWN_S"],
    } == LESSON
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Serve warns when look_back_period_s is not above its 10 s reports
        autoscaling_config(LESSON["autoscaling"])
