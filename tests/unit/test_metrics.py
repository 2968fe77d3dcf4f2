"""Parsing Serve's Prometheus text with prometheus_client, and the rates computed from it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import metrics

TEXT = """# HELP ray_serve_num_http_requests_total The number of HTTP requests processed.
# TYPE ray_serve_num_http_requests_total counter
ray_serve_num_http_requests_total{{application="hello",method="GET",route="/hello",status_code="200"}} {n}
ray_serve_num_http_requests_total{{application="predict-a",method="GET",route="/predict-a",status_code="200"}} {n}
# TYPE ray_serve_num_http_error_requests_total counter
ray_serve_num_http_error_requests_total{{application="hello",error_code="500",method="GET",route="/hello"}} {e}
# TYPE ray_serve_http_request_latency_ms histogram
ray_serve_http_request_latency_ms_bucket{{application="hello",le="5.0"}} {b5}
ray_serve_http_request_latency_ms_bucket{{application="hello",le="10.0"}} {b10}
ray_serve_http_request_latency_ms_bucket{{application="hello",le="+Inf"}} {n}
ray_serve_http_request_latency_ms_count{{application="hello"}} {n}
ray_serve_http_request_latency_ms_sum{{application="hello"}} 100.0
# TYPE ray_serve_deployment_replica_healthy gauge
ray_serve_deployment_replica_healthy{{application="hello",deployment="Hello",replica="a"}} 1.0
ray_serve_deployment_replica_healthy{{application="hello",deployment="Hello",replica="b"}} 1.0
"""


def serve(values, text=TEXT):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = text.format(**values).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/metrics"


def test_snapshots_and_rates():
    values = {"n": 10, "e": 0, "b5": 5, "b10": 9}
    server, url = serve(values)
    try:
        first = metrics.snapshot([url], 0.0)
        values.update(n=50, e=2, b5=25, b10=49)
        second = metrics.snapshot([url], 2.0)
        only_hello = metrics.snapshot([url], 2.0, application="hello")
    finally:
        server.shutdown()
    assert first.counters[metrics.REQUESTS] == 20 and second.counters[metrics.REQUESTS] == 100
    assert only_hello.counters[metrics.REQUESTS] == 50
    assert second.healthy == 2
    (row,) = metrics.rates([first, second])
    assert row["requests_per_s"] == 40.0 and row["errors_per_s"] == 1.0
    # 40 new requests: 20 under 5 ms, 40 under 10 ms -> p50 is the 5 ms bucket, p99 the 10 ms one.
    assert (row["p50_ms"], row["p99_ms"]) == (5.0, 10.0)


def test_a_node_that_does_not_answer_is_skipped():
    assert metrics.scrape(["http://127.0.0.1:9/metrics"]) == []


HEALTH = """# TYPE ray_serve_deployment_replica_healthy gauge
{lines}
# TYPE ray_serve_num_http_requests_total counter
ray_serve_num_http_requests_total{{application="hello",route="/hello",status_code="200"}} {n}
"""


def health_lines(*replicas):
    return "\n".join(
        f'ray_serve_deployment_replica_healthy{{application="{app}",deployment="D",replica="{r}"}} {v}'
        for app, r, v in replicas
    )


def test_the_health_gauge_is_counted_per_replica_over_a_window():
    # Ray's agent drops a gauge once scraped, and the controller re-sends an unchanged value every 10 s:
    # each scrape shows only the replicas reported since the previous one.
    scrapes = [
        [("hello", "a", 1.0), ("predict-a", "c", 1.0), ("predict-b", "d", 1.0)],
        [("hello", "b", 1.0)],
        [],
        [("hello", "a", 1.0), ("predict-a", "c", 1.0)],
        [("predict-b", "d", 1.0), ("hello", "old", 0.0)],
    ]
    values = {"lines": "", "n": 0}
    server, url = serve(values, HEALTH)
    snaps = []
    try:
        for i, replicas in enumerate(scrapes):
            values["lines"] = health_lines(*replicas)
            snaps.append(metrics.snapshot([url], 5.0 * i))
    finally:
        server.shutdown()
    assert [s.healthy for s in snaps] == [3, 1, 0, 2, 1]  # what one scrape says: 3, 1, 0, 2, 1
    latest = metrics.healthy_replicas(snaps, window_s=20)
    assert sum(1 for v in latest.values() if v >= 1) == 4  # a, b, c, d: the status board's 4 RUNNING
    assert latest[("hello", "D", "old")] == 0.0  # a stopped replica reports 0 last
    # A window shorter than the re-send interval misses replicas again.
    assert sum(1 for v in metrics.healthy_replicas(snaps, window_s=5).values() if v >= 1) == 3
    rows = metrics.rates(snaps, window_s=20)
    assert [r["healthy"] for r in rows] == [4]


def test_a_steady_rate_reads_as_that_rate_over_a_window_of_several_report_steps():
    # 20 req/s reported in steps of 40 every 2 s, scraped every second: between two scrapes the
    # counter moves by 0 or 40 (0 or 40 req/s); over 10 s it reads 20.
    values = {"lines": "", "n": 0}
    server, url = serve(values, HEALTH)
    snaps = []
    try:
        for t in range(21):
            values["n"] = 40 * (t // 2)
            snaps.append(metrics.snapshot([url], float(t)))
    finally:
        server.shutdown()
    per_scrape = {r["requests_per_s"] for r in metrics.rates(snaps)}
    assert per_scrape == {0.0, 40.0}
    windowed = metrics.rates(snaps, window_s=10)
    assert windowed[0]["t"] == 10.0 and len(windowed) == 11
    assert {r["requests_per_s"] for r in windowed} == {20.0}


def test_latency_quantiles_are_bucket_edges():
    values = {"n": 10, "e": 0, "b5": 5, "b10": 9}
    server, url = serve(values)
    try:
        snap = metrics.snapshot([url], 0.0, application="hello")
    finally:
        server.shutdown()
    assert metrics.bucket_edges(snap) == [5.0, 10.0]
    # 10 requests: 5 under 5 ms, 9 under 10 ms, 1 above -> p50 in (0, 5], p99 in (10, +Inf].
    assert metrics.quantile_bucket(snap.buckets, 50) == (0.0, 5.0)
    assert metrics.quantile_bucket(snap.buckets, 99) == (10.0, float("inf"))
    assert metrics.quantile_bucket({}, 50) is None


@pytest.mark.parametrize(
    "counted, reason",
    [(600, "difference: 0 (every answer"), (590, "difference: 10 not yet reported"), (605, "difference: 5 more")],
)
def test_the_request_count_says_why_sent_and_counted_differ(counted, reason):
    sampler = metrics.Sampler([])
    sampler.snapshots = [
        metrics.Snapshot(0.0, {metrics.REQUESTS: 100, metrics.ERRORS: 1}, {10.0: 50, 20.0: 100}),
        metrics.Snapshot(30.0, {metrics.REQUESTS: 100 + counted, metrics.ERRORS: 3}, {10.0: 350, 20.0: 700}),
    ]
    lines = metrics.count_report({"sent": 600, "failed": 0}, sampler).splitlines()
    assert lines[:2] == ["requests sent:           600", f"requests Serve counted:  {counted}"]
    assert lines[2].startswith(reason)
    assert lines[3] == "errors counted: 2 | failed at the client: 0"
    assert sampler.buckets_increase() == {10.0: 300, 20.0: 600}
