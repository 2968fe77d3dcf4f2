"""The traffic generator against a real HTTP server on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

import json
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers.scenarios import Outcome
from helpers.traffic import Record, Traffic


class FlakyServer:
    """Answers 503 while ``failing`` is set, 200 with a version otherwise."""

    def __init__(self):
        self.failing = threading.Event()
        self.version = "v1"
        self.hits = 0
        self.delay = 0.0  # seconds each answer takes
        outer = self

        self.connections = set()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Serve's proxy does

            def do_GET(self):
                outer.hits += 1
                outer.connections.add(self.client_address)
                time.sleep(outer.delay)
                if outer.failing.is_set():
                    self.send_response(503)
                    self.send_header("Content-Length", "11")
                    self.end_headers()
                    self.wfile.write(b"unavailable")
                    return
                body = json.dumps({"version": outer.version, "replica": "r1", "pid": 7}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = FlakyServer()
    yield s
    s.close()


def outage(server, traffic, seconds=0.3):
    traffic.wait(0.3)
    traffic.mark("outage")
    server.failing.set()
    traffic.wait(seconds)
    server.failing.clear()
    traffic.mark("back")
    traffic.wait(0.5)


def test_without_retries_the_failures_are_counted(server):
    with Traffic(server.url, ["/hello"], rate=50, retries=False) as traffic:
        outage(server, traffic)
    s = traffic.summary()
    assert s["failed"] > 0 and s["failures_by_status"] == {"503": s["failed"]}
    assert s["ok"] + s["failed"] == s["sent"] and s["versions"] == {"v1": s["ok"]}
    assert 0.2 < s["first_failure_s"] <= s["last_failure_s"] < 1.0
    assert [label for _, label in traffic.events] == ["outage", "back"]


def test_with_retries_the_client_rides_out_a_short_outage(server):
    with Traffic(server.url, ["/hello"], rate=50, retries=True) as traffic:
        outage(server, traffic)
    s = traffic.summary()
    assert s["failed"] == 0 and s["retried"] > 0
    assert max(r.attempts for r in traffic.records) > 1


def test_in_flight_counts_the_requests_sent_and_not_answered(server):
    server.delay = 0.3  # at 50 requests a second, about 15 open at once (Little's law)
    with Traffic(server.url, rate=50, max_requests=40) as traffic:
        traffic.wait(0.5)
        assert 5 <= traffic.in_flight <= 30 and not traffic.finished
        traffic.wait(2)
        assert traffic.finished
    assert traffic.in_flight == 0 and len(traffic.records) == 40


def test_load_is_bounded_in_count_and_time(server):
    with Traffic(server.url, ["/a", "/b"], rate=100, max_requests=10) as traffic:
        traffic.wait(2)
    assert len(traffic.records) == 10
    assert {r.route for r in traffic.records} == {"/a", "/b"}
    with Traffic(server.url, rate=100, max_seconds=0.2) as traffic:
        traffic.wait(2)
    assert 10 <= len(traffic.records) <= 22


def test_no_answer_is_status_zero():
    with Traffic("http://127.0.0.1:9", rate=20, max_requests=3, timeout=1) as traffic:
        traffic.wait(1)
    assert [r.status for r in traffic.records] == [0, 0, 0]
    assert "ConnectionError" in traffic.records[0].error


def test_versions_and_plot(server, tmp_path):
    with Traffic(server.url, rate=50) as traffic:
        traffic.wait(0.3)
        server.version = "v2"
        traffic.mark("update")
        traffic.wait(0.3)
    assert set(traffic.summary()["versions"]) == {"v1", "v2"}
    assert traffic.first_answer("v2") > traffic.first_answer("v1")
    traffic.plot(path=str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_rate_is_refused():
    with pytest.raises(ValueError, match="between 0 and 200"):
        Traffic("http://127.0.0.1:1", rate=0)


def recorded(*records: Record) -> Traffic:
    traffic = Traffic("http://127.0.0.1:1")
    traffic._records.extend(records)
    return traffic


def answer(t: float, version: str, latency: float = 0.01) -> Record:
    return Record(t=t, route="/hello", status=200, latency=latency, attempts=1, version=version)


def test_overlap_is_measured_from_the_first_new_and_the_last_old_answer():
    traffic = recorded(
        answer(1.0, "v1"), answer(2.0, "v2"), answer(2.5, "v1"), answer(3.0, "v1"), answer(3.5, "v2"), answer(4.0, "v2")
    )
    assert traffic.overlap("v1", "v2") == {
        "first_new_s": 2.0,
        "last_old_s": 3.0,
        "overlap_s": 1.0,
        "answers_in_window": {"v2": 1, "v1": 2},
    }


def test_a_hard_switch_has_no_overlap():
    traffic = recorded(answer(1.0, "v1"), answer(1.5, "v1"), answer(2.0, "v2"))
    assert traffic.overlap("v1", "v2")["overlap_s"] == 0.0
    assert recorded(answer(1.0, "v1")).overlap("v1", "v2")["first_new_s"] is None


def test_requests_in_flight_during_a_window_and_the_outage():
    failed = Record(t=2.2, route="/hello", status=0, latency=0.5, attempts=1)
    traffic = recorded(answer(1.0, "v1", 0.01), answer(1.95, "v1", 0.1), failed, answer(3.0, "v1"))
    # in flight between 2.0 and 2.5: the one sent at 1.95 (answered at 2.05) and the failed one
    assert traffic.overlapping(2.0, 2.5) == 2
    assert traffic.outage() == (2.2, 2.2)
    assert recorded(answer(1.0, "v1")).outage() is None


def test_the_bound_of_a_fault_counts_only_the_requests_open_while_the_fault_was_made():
    """A fault made between 2.0 and 2.1 s (the action's window), healthy again at 10 s. Open at some moment of
    the window: the request sent at 1.95 (answered at 2.05) and the one sent at 2.05. The 50 requests sent
    afterwards, failed or not, are not in the bound: a fault that cost them broke more than the bound allows."""
    later = [Record(t=3.0 + i / 10, route="/hello", status=0, latency=0.01, attempts=1) for i in range(50)]
    traffic = recorded(answer(1.0, "v1"), answer(1.95, "v1", 0.1), answer(2.05, "v1"), *later)
    summary = {"sent": 53, "failed": 50}
    outcome = Outcome("x", summary, 8.0, traffic=traffic, start_s=2.0, acted_s=2.1)
    assert outcome.in_flight_at_fault() == 2
    assert not outcome.failed <= outcome.in_flight_at_fault()
    assert traffic.overlapping(2.0, 10.0) == 52  # what "between the fault and healthy again" let through


@pytest.mark.parametrize("new_connections", [False, True])
def test_a_new_connection_per_request_when_asked(server, new_connections):
    """Off the local backend the traffic opens a connection per request, so each one reaches the pod behind the
    Service now (a kept-alive connection stays where it first went)."""
    with Traffic(server.url, ["/hello"], rate=50, max_requests=20, new_connections=new_connections) as traffic:
        traffic.wait(2)
    assert traffic.summary()["sent"] == 20 and traffic.summary()["failed"] == 0
    if new_connections:
        assert len(server.connections) == 20
    else:
        assert len(server.connections) <= 16  # one per sending thread at most


def test_retry_budget_outlasts_a_proxy_restart():
    """The lesson says a retrying request waits about 42 s before it gives up: that is this policy's back-off."""
    from helpers.traffic import retry_budget_s

    assert 40 <= retry_budget_s() <= 45


def test_an_outcome_explains_its_failures_by_status():

    summary = {"sent": 100, "failed": 0, "p50_ms": 1.0, "p99_ms": 2.0}
    assert Outcome("x", summary, 1.0).failure_reasons() == "without retries: 0 of 100 requests failed"
    summary = {
        **summary,
        "failed": 12,
        "first_failure_s": 2.1,
        "last_failure_s": 9.5,
        "failures_by_status": {"0": 2, "404": 9, "503": 1},
    }
    text = Outcome("x", summary, 1.0).failure_reasons()
    assert text.splitlines() == [
        "without retries: 12 of 100 requests failed",
        "  between 2.1 s and 9.5 s of the traffic",
        "  2 got no answer (a proxy or replica gone): not retried",
        "  9 got status 404 (a proxy with no route for the path): an answer, which no client retries",
        "  1 got status 503 (the server failed): not retried",
    ]
    retrying = Outcome("x", summary, 1.0, traffic=types.SimpleNamespace(retries=True)).failure_reasons()
    assert (
        "with retries: 12 of 100" in retrying
        and "(the server failed): still failing when the retries ran out" in retrying
    )


def test_an_outcome_report_names_each_failure_status_in_words():
    summary = {"sent": 100, "failed": 3, "p50_ms": 1.0, "p99_ms": 2.0, "first_failure_s": 2.1, "last_failure_s": 2.5}
    report = Outcome("x", {**summary, "failures_by_status": {"404": 1, "0": 2}}, 1.0).report()
    assert "failures between 2.1 s and 2.5 s: 2 × no answer, 1 × status 404" in report
    assert "{" not in report  # no dict printed
