"""Pods as tiny HTTP servers on 127.0.0.1, one per pod and port, for the forward's tests (tests/unit/test_forward.py):
what a forward connects to. Which pods exist comes from the KubeRay timeline fake (tests/kuberay_fake/)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import config

from .http_stub import http_server
from .kuberay_fake import KubeRayTimeline

# What a pod's server sends back: (status, body, content type); None drops the connection (a process gone).
Answer = Callable[[str, int, BaseHTTPRequestHandler], "tuple[int, bytes, str] | None"]


def pod_name_answer(pod: str, port: int, request: BaseHTTPRequestHandler) -> tuple[int, bytes, str]:
    return 200, pod.encode(), "text/plain"


class Pods:
    """One HTTP server per pod and port (started when first reached); a pod the timeline no longer has
    refuses connections, as a deleted pod does. By default every server answers with its pod's name."""

    def __init__(self, timeline: KubeRayTimeline | None = None, answer: Answer = pod_name_answer):
        self.timeline = timeline
        self.answer = answer
        self.servers: dict[tuple[str, int], ThreadingHTTPServer] = {}
        self.reached: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def server(self, pod: str, port: int = 0) -> ThreadingHTTPServer:
        with self._lock:
            if (pod, port) not in self.servers:
                self.servers[(pod, port)] = self._start(pod, port)
            return self.servers[(pod, port)]

    def _start(self, pod: str, port: int) -> ThreadingHTTPServer:
        return http_server(lambda request: self.answer(pod, port, request))

    def connect(self, pod: str, port: int) -> socket.socket:
        if self.timeline is not None and pod not in self.timeline.live_pods():
            raise ConnectionRefusedError(f"pod {pod} is gone")
        self.reached.append((pod, port))
        return socket.create_connection((config.LOOPBACK, self.server(pod, port).server_address[1]), timeout=5)

    def close(self):
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
