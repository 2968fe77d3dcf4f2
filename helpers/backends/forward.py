"""Port-forwards that follow a Kubernetes Service, for every new connection.

`kubectl port-forward svc/X` resolves the Service to ONE pod when it starts and never follows the
Service afterwards (kubernetes/kubectl#686). KubeRay moves its Services: a deleted head pod comes back
as a new pod with a new name, and a NewCluster upgrade repoints `<name>-head-svc` and `<name>-serve-svc`
to the new RayCluster (promotion), then deletes the old one 60 s later. A forward started before that
keeps reaching the old pod (then a dead one).

``Forwarder`` listens on 127.0.0.1 only and, for each new client connection, asks ``resolve(service)``
which pods are ready behind the Service right now (re-asking when a connect fails, a few times with a
short backoff), connects with ``connect(pod, port)`` and pipes bytes both ways. A connection already
open stays on its pod until one side closes it, as through a Service. The Kubernetes parts are the two
callables (``endpoint_resolver``: the Service's EndpointSlices; ``pod_connector``: the API server's
pod port-forward), so tests give real local sockets instead.

Run as ``python -m helpers.backends.forward [--context C] port-forward --address 127.0.0.1 svc/X L:R -n NS``
(``command()``; the arguments of `kubectl port-forward`): a detached process per forward, like the
kubectl processes it replaces, so the backend's process model is unchanged. It is tracked by PID and the
tutorial's marker variable: a kernel restart leaves no stray listener (the next kernel reuses it;
``stop_port_forwards()``, `make down` and lesson 09 (cleanup) stop it even without the state file), several open
notebooks share it instead of fighting over the fixed port, and it exits on SIGTERM/SIGINT with its
listener closed.
"""

from __future__ import annotations

import argparse
import logging
import random
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from helpers.backends.kubeapi import api_error, ready_pods

LOOPBACK = "127.0.0.1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # set by Kubernetes on every EndpointSlice of a Service

log = logging.getLogger("helpers.forward")

Endpoint = tuple[str, int]  # (pod name, port on the pod)
Resolve = Callable[[str], list[Endpoint]]
Connect = Callable[[str, int], Any]  # -> a connected socket-like object (recv, sendall, fileno, close)


class Forwarder:
    """Listen on 127.0.0.1:``local_port``; send each new connection to a pod ready behind ``service``."""

    def __init__(
        self,
        service: str,
        local_port: int,
        resolve: Resolve,
        connect: Connect,
        host: str = LOOPBACK,
        attempts: int = 4,
        backoff: float = 0.25,
    ):
        if host != LOOPBACK:
            raise ValueError(f"A forward listens on {LOOPBACK} only, not {host!r}: the Ray dashboard runs code.")
        self.service = service
        self.local_port = local_port
        self.resolve = resolve
        self.connect = connect
        self.attempts = attempts
        self.backoff = backoff
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._sockets: set[Any] = set()
        self._lock = threading.Lock()
        # A random ready pod for each new connection, as kube-proxy picks a Service's endpoint. (Taking them in
        # turn would pin two clients sending in step, such as lesson 04's pair, to one pod each.)
        self._pick = random.Random()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1] if self._listener else self.local_port

    def start(self) -> Forwarder:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((LOOPBACK, self.local_port))
        except OSError:
            listener.close()
            raise
        listener.listen(64)
        self._listener = listener
        self._spawn(self._accept_loop, f"forward {self.service} on {LOOPBACK}:{self.port}")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every open connection; wait for this forwarder's threads."""
        self._stopping.set()
        if self._listener is not None:
            _close(self._listener)
        with self._lock:
            for sock in list(self._sockets):
                _close(sock)
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inside -----------------------------------------------------------------------------

    def _spawn(self, target, name: str, *args) -> None:
        def run():
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _track(self, sock: Any) -> None:
        with self._lock:
            self._sockets.add(sock)
        if self._stopping.is_set():
            _close(sock)

    def _untrack(self, sock: Any) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():  # select with a timeout: closing a socket does not wake accept()
            try:
                if not select.select([self._listener], [], [], 0.25)[0]:
                    continue
                client, peer = self._listener.accept()
            except (OSError, ValueError):
                return  # the listener was closed: stop()
            self._track(client)
            self._spawn(self._serve, f"forward {self.service} from {peer[0]}:{peer[1]}", client, peer)

    def _serve(self, client: socket.socket, peer: tuple[str, int]) -> None:
        upstream = None
        try:
            upstream = self._open_upstream(peer)
            if upstream is not None:
                self._track(upstream)
                _pipe(client, upstream, self._stopping)
        finally:
            if upstream is not None:
                self._untrack(upstream)
            self._untrack(client)

    def _open_upstream(self, peer: tuple[str, int]) -> Any | None:
        """Connect to a pod ready behind the Service now; re-resolve after a failure; None if none."""
        problem = "no ready endpoint"
        for attempt in range(self.attempts):
            if attempt:
                if self._stopping.wait(self.backoff * 2 ** (attempt - 1)):
                    return None
            try:
                endpoints = list(self.resolve(self.service))
            except Exception as exc:  # noqa: BLE001 - the API server's errors come in many types
                problem = f"cannot read its endpoints: {exc}"
                continue
            if not endpoints:
                problem = "no ready endpoint"
                continue
            first = self._pick.randrange(len(endpoints))
            for pod, port in endpoints[first:] + endpoints[:first]:
                try:
                    upstream = self.connect(pod, port)
                except Exception as exc:  # noqa: BLE001
                    problem = f"connecting to pod {pod} port {port} failed: {exc}"
                    continue
                log.debug("%s:%s -> Service %s -> pod %s port %s", *peer, self.service, pod, port)
                return upstream
        if not self._stopping.is_set():
            log.warning(
                "Service %s: %s after %d attempts; closed the connection from %s:%s. "
                "KubeRay may be replacing the pod: new connections will try again.",
                self.service,
                problem,
                self.attempts,
                *peer,
            )
        return None


def _pipe(a: Any, b: Any, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes (the kubernetes client's pod socket cannot be
    half-closed: shutting down its write side ends the whole port-forward), or ``stopping``."""
    other = {a.fileno(): b, b.fileno(): a}
    by_fd = {a.fileno(): a, b.fileno(): b}
    while not stopping.is_set():
        try:
            readable, _, _ = select.select(list(by_fd), [], [], 0.25)
        except (OSError, ValueError):
            return
        for fd in readable:
            try:
                data = by_fd[fd].recv(65536)
                if not data:
                    return
                other[fd].sendall(data)
            except OSError:
                return


def _close(sock: Any) -> None:
    try:
        sock.close()
    except OSError:
        pass


# -- Kubernetes: which pods are behind the Service, and a connection to one ------------------------


def ready_endpoints(slices: list[dict[str, Any]], port_name: str | None) -> list[Endpoint]:
    """(pod, pod port) of every ready endpoint in a Service's EndpointSlices (the kubernetes client's
    ``to_dict()`` shape). The Service port is matched by its name: EndpointSlice ports carry the
    Service port's name and the pod's port number (its targetPort). ``ready`` unset
    counts as ready, as the API documents; a terminating endpoint is never used, even marked ready: KubeRay's
    head Services are headless with ``publishNotReadyAddresses: true``, so their EndpointSlices mark every head
    pod ready, a terminating one too (seen on the host backend's cluster: tests/host/test_kuberay_behaviour.py)."""
    found = []
    for item in slices:
        # A Service with several ports names each; an unnamed port is the only one.
        numbers = [p.get("port") for p in item.get("ports") or [] if (p.get("name") or None) == port_name]
        if not numbers or numbers[0] is None:
            continue
        found.extend((pod, numbers[0]) for pod in ready_pods([item]))
    return sorted(set(found))


def service_port_name(service: dict[str, Any] | None, port: int) -> str | None:
    """The name of the Service's port ``port`` (None when unnamed or the Service is not there)."""
    for item in ((service or {}).get("spec") or {}).get("ports") or []:
        if item.get("port") == port:
            return item.get("name") or None
    return None


def endpoint_resolver(api: Any, namespace: str, service_port: int) -> Resolve:
    """``resolve(service)`` from ``api.read_service`` and ``api.list_endpoint_slices`` (``EndpointsAPI``
    or a fake of it); the port's name is read once (a Service's ports do not change here)."""
    names: dict[str, str | None] = {}

    def resolve(service: str) -> list[Endpoint]:
        if service not in names:
            obj = api.read_service(namespace, service)
            if obj is None:
                return []
            names[service] = service_port_name(obj, service_port)
        return ready_endpoints(api.list_endpoint_slices(namespace, service), names[service])

    return resolve


class EndpointsAPI:
    """The three calls a forward makes, through the official ``kubernetes`` client."""

    def __init__(self, context: str | None = None):
        import os

        from kubernetes import client, config

        def new_client():
            return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"), context=context)

        reads = new_client()
        self.core = client.CoreV1Api(reads)
        self.discovery = client.DiscoveryV1Api(reads)
        # kubernetes.stream swaps its ApiClient's call_api for the time of the websocket handshake: port-forwards
        # get their own ApiClient (reads keep working meanwhile), one handshake at a time (the swap is not
        # thread-safe: two at once could leave the websocket call in place for good).
        self.forwards = client.CoreV1Api(new_client())
        self._handshake = threading.Lock()
        self._exception = client.ApiException

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.core.read_namespaced_service(name, namespace).to_dict()
        except self._exception as exc:
            if exc.status == 404:
                return None
            raise api_error(f"read Service {name}", exc, ("get", "services", namespace)) from None

    def list_endpoint_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """discovery.k8s.io/v1 EndpointSlices labelled kubernetes.io/service-name=<service>."""
        try:
            found = self.discovery.list_namespaced_endpoint_slice(
                namespace, label_selector=f"{SERVICE_NAME_LABEL}={service}"
            )
        except self._exception as exc:
            raise api_error(
                f"list the EndpointSlices of {service}", exc, ("list", "endpointslices.discovery.k8s.io", namespace)
            ) from None
        return [item.to_dict() for item in found.items]

    def connect(self, namespace: str, pod: str, port: int) -> Any:
        """A socket to ``port`` of ``pod``, through the API server's pod port-forward (a websocket)."""
        from kubernetes.stream import portforward

        with self._handshake:
            forward = portforward(self.forwards.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        return forward.socket(port)


def pod_connector(api: EndpointsAPI, namespace: str) -> Connect:
    return lambda pod, port: api.connect(namespace, pod, port)


# -- the pod network: where this machine reaches the Services as a pod does (the host backend) -----------------


def address_resolver(api: Any, namespace: str, service_port: int) -> Resolve:
    """``resolve(service)`` for a machine on the pod network: a Service with a cluster IP is its cluster IP (kube-proxy
    picks the pod for each connection, as for every client in the cluster); a headless Service (KubeRay's head
    Services) is the addresses of its ready, not terminating endpoints, as its DNS name gives them."""

    def resolve(service: str) -> list[Endpoint]:
        obj = api.read_service(namespace, service)
        if obj is None:
            return []
        spec = obj.get("spec") or {}
        if spec.get("cluster_ip") not in (None, "", "None"):
            return [(spec["cluster_ip"], service_port)]
        return ready_addresses(api.list_endpoint_slices(namespace, service), service_port_name(obj, service_port))

    return resolve


def ready_addresses(slices: list[dict[str, Any]], port_name: str | None) -> list[Endpoint]:
    """(IP, pod port) of every ready, not terminating endpoint of a Service, for its port ``port_name``."""
    found = set()
    for item in slices:
        numbers = [p.get("port") for p in item.get("ports") or [] if (p.get("name") or None) == port_name]
        if not numbers or numbers[0] is None:
            continue
        for endpoint in item.get("endpoints") or []:
            if ready_pods([{"endpoints": [endpoint]}]):
                found.update((address, numbers[0]) for address in endpoint.get("addresses") or [])
    return sorted(found)


def address_connector(address: str, port: int) -> socket.socket:
    """A TCP connection to ``address:port`` on the pod network (a refused one raises, as for any client)."""
    sock = socket.create_connection((address, port), timeout=5.0)
    sock.settimeout(None)
    return sock


def command(
    python: str,
    service: str,
    local: int,
    remote: int,
    namespace: str,
    context: str | None = None,
    pod_network: bool = False,
) -> list[str]:
    """The command line of a detached forward: `kubectl port-forward`'s arguments, so it reads the same.
    ``pod_network``: this machine is on the cluster's pod network (the host backend): connect to the Service's
    cluster IP (or a headless Service's pod IPs) instead of through the API server."""
    return [
        python,
        "-m",
        "helpers.backends.forward",
        *(["--context", context] if context else []),
        *(["--pod-network"] if pod_network else []),
        "port-forward",
        "--address",
        LOOPBACK,
        f"svc/{service}",
        f"{local}:{remote}",
        "-n",
        namespace,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.backends.forward", description=__doc__.split("\n")[0])
    parser.add_argument("--context")
    parser.add_argument("--pod-network", action="store_true", help="reach the Service as a pod does")
    parser.add_argument("verb", choices=["port-forward"])
    parser.add_argument("--address", default=LOOPBACK, choices=[LOOPBACK])
    parser.add_argument("target", help="svc/<name>")
    parser.add_argument("ports", help="<local>:<service port>")
    parser.add_argument("-n", "--namespace", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    service = args.target.removeprefix("svc/").removeprefix("service/")
    local, remote = (int(p) for p in args.ports.split(":"))
    try:
        api = EndpointsAPI(args.context)
    except Exception as exc:  # noqa: BLE001 - kubeconfig problems come in many types
        log.error("Cannot load the kubeconfig%s: %s", f" context {args.context!r}" if args.context else "", exc)
        return 1
    if args.pod_network:
        # One attempt: a connection the Service's pod refuses fails, as it does for a client in the cluster.
        resolve, connect = address_resolver(api, args.namespace, remote), address_connector
        forwarder = Forwarder(service, local, resolve, connect, attempts=1)
    else:
        resolve, connect = endpoint_resolver(api, args.namespace, remote), pod_connector(api, args.namespace)
        forwarder = Forwarder(service, local, resolve, connect)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        forwarder.start()
    except OSError as exc:
        log.error("Cannot listen on %s:%d for Service %s: %s", LOOPBACK, local, service, exc)
        return 1
    log.info(
        "Forwarding from %s:%d -> Service %s port %d (the pod is chosen per connection)",
        LOOPBACK,
        local,
        service,
        remote,
    )
    while not done.wait(1.0):
        pass
    forwarder.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
