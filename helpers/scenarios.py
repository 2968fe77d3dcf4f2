"""Faults and updates, each measured under live traffic (lessons 04 and 05, and `make bench`).

outcome = measure(backend, "replica killed", lambda: backend.kill_replica("hello"),
                  healthy=back_to_target(backend, "hello"))
print(outcome.report())
outcome.traffic.plot()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import status as status_mod
from helpers.backends.faults import HeadLost
from helpers.errors import BackendError, KindOnly
from helpers.progress import wait_for
from helpers.traffic import RETRY_STATUSES, Traffic


@dataclass
class Outcome:
    name: str
    summary: dict[str, Any]
    recovery_s: float | None  # fault (or update) -> healthy again
    detail: Any = None  # what the action returned (e.g. which replica was killed)
    error: BackendError | None = None  # e.g. the DeployFailedError of a bad update
    traffic: Traffic | None = field(default=None, repr=False)
    start_s: float | None = None  # when the fault (or update) started, seconds after the traffic started
    # From then on the fault reached no new request (the action returned, or the detail's ``contained_at``: a dead
    # proxy's pod out of the Service). Requests open at some moment of [start_s, acted_s] bound the failures.
    acted_s: float | None = None
    head_back_s: float | None = None  # a lost head: seconds from the fault until the new head answered
    # A lost head: the replicas RUNNING before the fault that are RUNNING again after it (the same replica ids).
    kept_replicas: list[str] | None = None
    # The same fault seen by a second client running at the same time with the other retry setting
    # (``measure(..., alongside=True)``): one fault, measured without and with retries.
    companion: Outcome | None = field(default=None, repr=False)

    @property
    def retries(self) -> bool:
        return bool(self.traffic and self.traffic.retries)

    def in_flight_at_fault(self) -> int:
        """Requests open while the fault was being made: sent before it was contained and not answered before it
        started. The kill itself takes a moment (``kubectl exec``), and on Kubernetes a dead proxy's pod gets new
        connections until it leaves the Service (``contained_at``), so the window runs from the start of the action
        to then. Without retries, a fault that cost more than this broke requests it should not have reached."""
        if self.traffic is None or self.start_s is None:
            return self.summary["sent"]
        end = self.acted_s if self.acted_s is not None else self.traffic.now()
        return self.traffic.overlapping(self.start_s, end)

    @property
    def failed(self) -> int:
        return self.summary["failed"]

    def report(self) -> str:
        s = self.summary
        retries = "with retries" if self.retries else "no retries"
        lines = [
            f"{self.name}: {s['sent']} requests ({retries}), {s['failed']} failed, "
            f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
        ]
        if s["failed"]:
            lines.append(
                f"  failures between {s['first_failure_s']} s and {s['last_failure_s']} s: "
                + ", ".join(
                    f"{count} × {'no answer' if str(status) == '0' else f'status {status}'}"
                    for status, count in sorted(s["failures_by_status"].items())
                )
            )
        if self.head_back_s is not None:
            lines.append(f"  the head answered again {self.head_back_s:.1f} s after it started")
        if self.recovery_s is not None:
            lines.append(f"  healthy again {self.recovery_s:.1f} s after it started")
        if self.error is not None:
            lines.append(f"  the change failed: {str(self.error).splitlines()[0]}")
        return "\n".join(lines)

    def failure_reasons(self) -> str:
        """The failed requests in words: how many, when, and by status, with what each status means here."""
        s = self.summary
        lines = [f"{'with' if self.retries else 'without'} retries: {s['failed']} of {s['sent']} requests failed"]
        if not s["failed"]:
            return lines[0]
        lines.append(f"  between {s['first_failure_s']} s and {s['last_failure_s']} s of the traffic")
        retried = "still failing when the retries ran out" if self.retries else "not retried"
        for status, count in s["failures_by_status"].items():
            if status == "0":
                lines.append(f"  {count} got no answer (a proxy or replica gone): {retried}")
            elif int(status) in RETRY_STATUSES:
                lines.append(f"  {count} got status {status} (the server failed): {retried}")
            else:
                meaning = " (a proxy with no route for the path)" if status == "404" else ""
                lines.append(f"  {count} got status {status}{meaning}: an answer, which no client retries")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        extra = {"head_back_s": self.head_back_s} if self.head_back_s is not None else {}
        return {"name": self.name, "retries": self.retries, "recovery_s": self.recovery_s, **extra, **self.summary}


def measure(
    backend,
    name: str,
    action: Callable[[], Any],
    healthy: Callable[[Any], Any] | None = None,
    routes: tuple[str, ...] | list[str] = ("/hello",),
    rate: float = 20.0,
    retries: bool = False,
    before: float = 2.0,
    after: float = 3.0,
    max_seconds: float = 300.0,
    alongside: bool = False,
) -> Outcome:
    """Run ``action`` under traffic: ``before`` s of load, the action, ``healthy(what action returned)``
    (a blocking wait that raises if things went wrong), then ``after`` s more. Traffic always stops.

    ``alongside``: a second client with the other retry setting sends the same load at the same time (each at
    ``rate``); its measurement is the outcome's ``companion``. One fault then answers "without and with
    retries", where a slow fault (a lost head) would otherwise have to happen twice."""

    def client(retrying: bool) -> Traffic:
        return Traffic(
            backend.serve_url,
            routes,
            rate=rate,
            retries=retrying,
            max_seconds=max_seconds,
            new_connections=backend.service_moves,
        )

    clients = [client(retries)] + ([client(not retries)] if alongside else [])
    detail = error = recovery = acted = None
    for started, c in enumerate(clients):
        try:
            c.start()
        except BaseException:
            for running in clients[:started]:
                running.stop()
            raise
    try:
        clients[0].wait(before)
        starts = [c.mark(name) for c in clients]
        try:
            detail = action()
            contained = getattr(detail, "contained_at", None)  # a Fault (helpers.backends.faults), or an update's
            acted = [c.now() if contained is None else contained - c.start_time for c in clients]
            if healthy is not None:
                healthy(detail)
            ends = [c.mark("healthy again") for c in clients]
            recovery = ends[0] - starts[0]
        except KindOnly:
            raise
        except BackendError as exc:
            error = exc
            for c in clients:
                c.mark("change failed")
        clients[0].wait(after)
    finally:
        for c in clients:
            c.stop()
    acted = acted or [None] * len(clients)  # the action itself raised: the fault's moment is not known
    outcomes = [
        Outcome(name, c.summary(), recovery, detail, error, c, start, acted_s=done)
        for c, start, done in zip(clients, starts, acted, strict=True)
    ]
    if alongside:
        outcomes[0].companion = outcomes[1]
    return outcomes[0]


def ready(backend, timeout: float = 120.0) -> Callable[[Any], float]:
    """A wait for after an update: the RayService Ready with the new config RUNNING."""
    return lambda _detail=None: backend.wait_ready(timeout)


def back_to_target(backend, app: str, timeout: float = 120.0) -> Callable[[Any], float]:
    """A wait for after a fault: ``app`` RUNNING, every deployment at its target of RUNNING replicas,
    and none of the replicas the fault took (``replica``/``replicas`` of its detail) still listed."""

    def wait(detail: Any = None) -> float:
        replica = getattr(detail, "replica", None)
        gone = set(getattr(detail, "replicas", None) or []) | ({replica} if replica else set())

        def check() -> tuple[bool, str]:
            current = backend.status()
            app_status = current["activeServiceStatus"]["applicationStatuses"].get(app)
            if not app_status:
                return False, f"{app} not listed yet"
            deployments = app_status["serveDeploymentStatuses"].values()
            ok = app_status["status"] == "RUNNING" and all(
                d["replicaStates"] == {"RUNNING": d["targetReplicas"]} for d in deployments
            )
            if ok:
                # Serve's deployment counts and its list of replicas can disagree for a moment after a replica
                # dies: wait until the list, too, holds the target and none of the replicas the fault took.
                listed = {r["replica_id"] for r in backend.running_replicas(app)}
                ok = not (listed & gone) and len(listed) == sum(d["targetReplicas"] or 0 for d in deployments)
            return ok, status_mod.summary(current)

        return wait_for(f"{app} back to its target replicas", check, timeout)

    return wait


def kind_only(backend, what: str, on_host: bool = True) -> bool:
    """True on a real Kubernetes (kind, kubernetes, and host unless ``on_host`` is False); otherwise print that the
    step needs one and return False."""
    if backend.name == "local":
        where = 'BACKEND = "host" (this machine, after `make host-build`) or "kind"' if on_host else 'BACKEND = "kind"'
        print(f"{what}: needs Kubernetes. Run this lesson with {where} to see it; the local backend does not pretend.")
        return False
    if backend.name == "host" and not on_host:
        print(
            f"{what}: kind only. The host backend builds only the tutorial's own images, and this step's come from "
            'registries: run this lesson with BACKEND = "kind" to see it.'
        )
        return False
    return True


# -- the scenarios of lessons 04 and 05 (and `make bench`) --------------------------------------

APP = "hello"


def replica_crash(backend, retries: bool = False, timeout: float = 120.0, **traffic) -> Outcome:
    """SIGKILL one replica of hello; Serve replaces it."""
    return measure(
        backend,
        "replica killed",
        lambda: backend.kill_replica(APP),
        healthy=back_to_target(backend, APP, timeout),
        retries=retries,
        **traffic,
    )


def node_loss(backend, retries: bool, timeout: float = 120.0, **traffic) -> Outcome:
    """Lose worker node 0 (on Kubernetes: delete a worker pod); a new one takes its place."""
    return measure(
        backend,
        "worker node lost",
        lambda: backend.lose_worker(0),
        healthy=back_to_target(backend, APP, timeout),
        retries=retries,
        **traffic,
    )


def proxy_replaced(backend, timeout: float = 120.0) -> Callable[[Any], float]:
    """A wait: the killed proxy's node has a new, HEALTHY proxy actor, and the service is Ready again (on
    Kubernetes the serve Service may have had no pod behind it meanwhile: the head's proxy was the only one with a
    replica behind it, and the head comes back into the Service only after KubeRay sees its new proxy)."""

    def wait(detail: Any) -> float:
        def check() -> tuple[bool, str]:
            proxy = backend.proxies().get(detail.node_id) or {}
            new = proxy.get("actor_id") not in (None, detail.proxy_actor)
            return new and proxy.get("status") == "HEALTHY", f"head proxy {proxy.get('status', 'gone')}"

        start = time.monotonic()
        wait_for("a new HTTP proxy on the head node", check, timeout)
        backend.wait_ready(max(1.0, timeout - (time.monotonic() - start)))
        return time.monotonic() - start

    return wait


def proxy_loss(backend, retries: bool = True, timeout: float = 120.0, **traffic) -> Outcome:
    """SIGKILL the head node's HTTP proxy; the controller replaces it after failed health checks. First (before the
    traffic starts) another node's proxy must take new connections: the fault is then the head's proxy alone."""
    backend.wait_for_another_proxy()
    return measure(
        backend,
        "head proxy killed",
        backend.kill_proxy,
        healthy=proxy_replaced(backend, timeout),
        retries=retries,
        **traffic,
    )


def update(backend, name: str, manifest, timeout: float = 120.0, **traffic) -> Outcome:
    """Apply ``manifest`` under traffic and wait until it is Ready (or fails)."""
    return measure(backend, name, lambda: backend.apply(manifest), healthy=ready(backend, timeout), **traffic)


def head_pod_loss(
    backend, timeout: float = 300.0, name: str = "head pod deleted", app: str = "hello", **traffic
) -> Outcome:
    """Lose the head (on Kubernetes: delete the head pod), under two clients at once, one without and one
    with retries (the outcome is the retrying client's, its ``companion`` the other's). Two figures: the
    seconds until the head answers again (``head_back_s``) and until Serve reports every application RUNNING
    and the service Ready (``recovery_s``). With GCS fault tolerance the applications keep their state; without
    it they are deployed again on the new head: ``kept_replicas`` lists the replicas of ``app`` RUNNING before
    the fault and again after it."""
    fault: dict[str, Any] = {}

    def action() -> Any:
        fault["before"] = {r["replica_id"] for r in backend.running_replicas(app)}
        fault["at"] = time.monotonic()
        return backend.delete_head_pod()

    def healthy(detail: HeadLost) -> None:
        fault["head_back_s"] = detail.head_back_s  # both backends wait for the new head and time it
        backend.wait_ready(max(1.0, fault["at"] + timeout - time.monotonic()))
        fault["kept"] = sorted(fault["before"] & {r["replica_id"] for r in backend.running_replicas(app)})

    outcome = measure(backend, name, action, healthy=healthy, retries=True, alongside=True, **traffic)
    for o in (outcome, outcome.companion):
        o.head_back_s = fault.get("head_back_s")
        o.kept_replicas = fault.get("kept")
    return outcome


def cluster_upgrade(backend, manifest, revision: str, timeout: float = 600.0, **traffic) -> Outcome:
    """kind only: change rayClusterConfig; KubeRay builds a new cluster and switches to it."""
    return measure(
        backend,
        "rayClusterConfig changed",
        lambda: backend.upgrade_cluster(manifest, revision),
        healthy=ready(backend, timeout),
        retries=True,
        **traffic,
    )
