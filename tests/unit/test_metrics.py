"""Parsing Serve's Prometheus text with prometheus_client, and the rates computed from it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def serve(values):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = TEXT.format(**values).encode()
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
