"""A Kubernetes cluster played on this machine: the kind (or kubernetes) backend, unchanged, against KubeRay
and Serve fakes.

What cannot run here (Docker, kind, the API server, Ray inside pods) is played by stand-ins; everything else
is the real code the lessons run:

- the API: ``ServeOnKubeRay`` (KubeRay's timeline with Serve inside the pods) on a fake clock that moves
  while the backend waits (``helpers.progress`` sleeps advance it);
- ``kubectl``: ``FakeCommands`` records each command and hands it to the timeline (delete a pod, exec
  ``kill -9`` or ``pkill`` in one);
- the pods: one HTTP server per pod and port on 127.0.0.1 (``Pods``): the head's dashboard answers Serve's
  REST API with its cluster's token required, port 8000 answers the routes of the pod's proxy;
- the forwards: the real ``Forwarder`` (the class the detached forward process runs), one per Service,
  resolving the Service's ready endpoints from the timeline for every new connection. They take the place
  of the detached processes, which need a real API server (tests/unit/test_forward.py covers those).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import types
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from helpers import config, progress
from helpers.backends.forward import Forwarder, endpoint_resolver
from helpers.backends.kind import KindBackend
from helpers.backends.kube import KubernetesBackend

from .fakes import FakeCommands
from .http_stub import http_server
from .kuberay_timeline import KubeRayTimeline
from .serve_timeline import ServeOnKubeRay

NS = "rayservice-tutorial"
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


def ray_pod_answer(timeline: ServeOnKubeRay, lock: threading.RLock) -> Answer:
    """What the Ray processes in a pod answer: the head's dashboard (Serve's REST API, Ray's token
    authentication as KubeRay's authOptions {mode: token} turns it on) and every pod's Serve proxy, whose
    answer names the RayCluster as its ``version`` and the pod as its ``replica`` (what the traffic records)."""

    def answer(pod: str, port: int, request: BaseHTTPRequestHandler) -> tuple[int, bytes, str] | None:
        with lock:
            return in_pod(pod, port, request)

    def in_pod(pod: str, port: int, request: BaseHTTPRequestHandler) -> tuple[int, bytes, str] | None:
        p = timeline.pods.get(pod)
        if p is None or p.deleted_at is not None:
            return None
        if port == 8265:
            return dashboard(p.cluster, pod, request)
        if port == 8000:
            routes = timeline.routes(pod)
            if not routes and not timeline.proxy_healthy(pod):
                return None  # no proxy process listening
            path = request.path.split("?")[0]
            prefix = max(
                (r for r in routes if path == r or path.startswith(r.rstrip("/") + "/")), key=len, default=None
            )
            if prefix is None:
                return 404, b"Path not found", "text/plain"
            body = json.dumps({"app": routes[prefix], "version": p.cluster, "replica": pod}).encode()
            return 200, body, "application/json"
        return 200, b"# metrics of " + pod.encode() + b"\n", "text/plain"

    def dashboard(cluster: str, pod: str, request: BaseHTTPRequestHandler) -> tuple[int, bytes, str] | None:
        if timeline.pods[pod].node_type != "head":
            return None  # only the head runs the dashboard
        token = timeline.token_of(cluster)
        sent = request.headers.get("Authorization")
        if token and sent is None:
            return 401, b"Unauthorized: missing authentication token", "text/plain"
        if token and sent != f"Bearer {token}":
            return 403, b"Forbidden: invalid authentication token", "text/plain"
        if request.path == "/api/version":
            return 200, b'{"ray_version": "2.55.1"}', "application/json"
        if request.path.rstrip("/") != "/api/serve/applications" or request.command != "GET":
            return 404, b"Not Found", "text/plain"
        details = timeline.serve_details(pod)
        if details is None:
            return 503, b"Serve is not running on this head yet", "text/plain"
        return 200, json.dumps(details).encode(), "application/json"

    return answer


class Serialized:
    """Every method call into ``target`` under ``lock``: the backend, the forwards, the pods' servers and the
    clock reach the timeline from different threads."""

    def __init__(self, target: Any, lock: threading.RLock):
        self._target, self._lock = target, lock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            with self._lock:
                return value(*args, **kwargs)

        return call


def played(base: type[KubernetesBackend]) -> type[KubernetesBackend]:
    """``base`` (the kind or the kubernetes backend) with its detached forward processes replaced by the
    world's in-thread forwards, which follow their Services from the start and are never restarted."""

    class Played(base):
        def __init__(self, world: KubeWorld, **kwargs):
            self.world = world
            super().__init__(**kwargs)

        def ensure_port_forwards(self) -> None:
            self.world.forwarded += 1

        def _dashboard_forwarded(self) -> bool:
            return True

        def stop_port_forwards(self) -> int:
            return 0

    Played.__name__ = f"Played{base.__name__}"
    return Played


class KubeWorld:
    """``with KubeWorld(tmp_path, monkeypatch) as world:`` ``world.backend`` is the kind backend (or, with
    ``backend="kubernetes"``, the kubernetes one); leaving stops every server, forward and clock.

    The timeline's clock (``world.timeline``) moves only while the backend waits (its sleeps advance it): a
    wait of minutes takes no time. With ``speed``, it runs on its own instead, ``speed`` times faster than
    real time, so real traffic (``helpers.traffic``, in threads) can run through a fault or an upgrade as it
    does in the lessons."""

    BACKENDS = {"kind": KindBackend, "kubernetes": KubernetesBackend}

    def __init__(
        self, state_dir: Path, monkeypatch, backend: str = "kind", speed: float | None = None, **timeline_options
    ):
        self.timeline = ServeOnKubeRay(**timeline_options)
        self.lock = threading.RLock()
        self.api = Serialized(self.timeline, self.lock)
        self.pods = Pods(self.api, ray_pod_answer(self.timeline, self.lock))
        self.forwarded = 0
        name = "ray-serve-app"
        self.forwards = {
            label: Forwarder(service, 0, endpoint_resolver(self.api, NS, remote), self.pods.connect, backoff=0.05)
            for label, service, remote in (
                ("serve", f"{name}-serve-svc", 8000),
                ("dashboard", f"{name}-head-svc", 8265),
                ("metrics", f"{name}-head-svc", 8080),
            )
        }
        for fwd in self.forwards.values():
            fwd.start()
        ports = config.Ports(**{label: fwd.port for label, fwd in self.forwards.items()})
        responses = {
            ("docker", "info"): (0, "28.2.2 25769803776", ""),
            ("kubectl",): self.api.kubectl,
        }
        self.commands = FakeCommands(responses=responses)
        self._stopping = threading.Event()
        self._clock: threading.Thread | None = None
        if speed is None:
            clock = types.SimpleNamespace(sleep=self.api.advance, monotonic=self.timeline.clock, time=time.time)
            monkeypatch.setattr(progress, "time", clock)
        else:
            self._clock = threading.Thread(target=self._run_clock, args=(speed,), name="timeline clock", daemon=True)
            self._clock.start()
        self.backend = played(self.BACKENDS[backend])(
            self, state_dir=state_dir, ports=ports, commands=self.commands, api=self.api
        )

    def _run_clock(self, speed: float, tick: float = 0.02) -> None:
        last = time.monotonic()
        while not self._stopping.wait(tick):
            now = time.monotonic()
            self.api.advance((now - last) * speed)
            last = now

    def __enter__(self) -> KubeWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.backend.serve_api._session.close()  # its kept-alive connection would hold a forward open
        for fwd in self.forwards.values():
            fwd.stop()
        self.pods.close()
        self._stopping.set()
        if self._clock is not None:
            self._clock.join(timeout=5)
