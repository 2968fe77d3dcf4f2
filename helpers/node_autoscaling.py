"""Worker pods that follow Serve's replicas (lesson 07, Kubernetes only).

Serve places a replica on a Ray node with the CPUs its ``ray_actor_options`` ask for; when no node has them, the
replica waits. With ``enableInTreeAutoscaling: true`` KubeRay runs Ray's autoscaler as a second container of the
head pod: it reads that demand from the GCS and sets the worker group's ``replicas`` (between ``minReplicas`` and
``maxReplicas``); KubeRay makes the pods. A worker idle for ``idleTimeoutSeconds`` is named in
``workersToDelete`` and KubeRay deletes that pod. The local backend has no node provider and does not pretend:
there, ``WorkerWatch`` says so and the lesson shows the recorded run of the host cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from helpers.autoscaling import ReplicaTimeline
from helpers.i18n import _

# The lesson's cluster: the head takes no replica (num-cpus 0), so the demand lands on the workers; 1-CPU workers
# hold two replicas of 0.5 CPU each, so the 3 replicas the ramp needs (autoscaling.LESSON) ask for a second pod.
LESSON = {"replica_cpus": 0.5, "min_workers": 1, "max_workers": 2, "idle_timeout_s": 30}
# KubeRay gives the autoscaler container 500m CPU and 512Mi, requested and limited; on a 2-CPU node the request
# is a quarter of it. It needs little CPU (one loop every few seconds); 512Mi holds Ray's autoscaler.
# KubeRay deletes a replaced RayCluster 60 s after the switch by default; the lesson waits for it before the ramp
# (old pods going away under a measurement cost requests on the 2-CPU node), so it asks for 10 s.
OLD_CLUSTER_DELAY_S = 10
AUTOSCALER_RESOURCES = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def nodes_follow(manifest: Any, replica_cpus: float, min_workers: int, max_workers: int, idle_timeout_s: int,
                 app: str = "hello", deployment: str = "Hello") -> Any:  # fmt: skip
    """A copy of ``manifest`` whose worker pods follow the replicas of ``deployment``: Ray's autoscaler on, idle
    workers removed after ``idle_timeout_s``, no replica on the head, ``replica_cpus`` per replica, and the first
    worker group between ``min_workers`` and ``max_workers`` pods. A ``rayClusterConfig`` change: a new
    RayCluster on Kubernetes."""
    from helpers import manifests

    if not 0 < replica_cpus <= 1:
        raise ValueError(f"replica_cpus={replica_cpus!r}: give a replica more than 0 and at most 1 CPU, e.g. 0.5.")
    if not 0 <= min_workers <= max_workers:
        raise ValueError(f"min_workers={min_workers}, max_workers={max_workers}: need 0 <= min <= max, e.g. 1 and 2.")
    raw = copy.deepcopy(manifest.raw)
    raw["spec"]["rayClusterDeletionDelaySeconds"] = OLD_CLUSTER_DELAY_S
    cluster = raw["spec"]["rayClusterConfig"]
    cluster["enableInTreeAutoscaling"] = True
    cluster["autoscalerOptions"] = {
        "idleTimeoutSeconds": idle_timeout_s,
        "resources": copy.deepcopy(AUTOSCALER_RESOURCES),
    }
    head = cluster["headGroupSpec"]
    head["rayStartParams"] = {**(head.get("rayStartParams") or {}), "num-cpus": "0"}
    group = cluster["workerGroupSpecs"][0]
    group.update(replicas=min_workers, minReplicas=min_workers, maxReplicas=max_workers)
    edited = manifests.validate(raw, manifest.source)
    current = {d["name"]: d for a in edited.applications if a["name"] == app for d in a.get("deployments", [])}
    options = {**(current.get(deployment, {}).get("ray_actor_options") or {}), "num_cpus": replica_cpus}
    return manifests.with_deployment_options(edited, app, deployment, ray_actor_options=options)


def worker_counts(backend: Any) -> tuple[int, int | None]:
    """(worker pods Ready, the active RayCluster's ``desiredWorkerReplicas``): what ``kubectl get rayclusters``
    shows as AVAILABLE and DESIRED WORKERS, read from the pods and the RayCluster."""
    from helpers.backends.kubeapi import pod_ready

    pods = backend.ray_pods("worker")
    active, _pending = backend.cluster_names()
    cluster = backend.kube.get_raycluster(backend.namespace, active) or {}
    return sum(1 for p in pods if pod_ready(p)), (cluster.get("status") or {}).get("desiredWorkerReplicas")


class WorkerWatch:
    """The worker pods through a ramp, sampled every second from when it is entered (a ``with`` block around
    ``run_ramp``); leaving the block normally keeps sampling until ``wait_back()`` has seen the idle workers go
    (an error stops it). On the local backend: nothing to watch."""

    def __init__(self, backend: Any, min_workers: int, idle_timeout_s: int):
        self.backend = backend
        self.min_workers = min_workers
        self.idle_timeout_s = idle_timeout_s
        kubernetes = backend.name != "local"
        self.timeline = ReplicaTimeline(lambda: worker_counts(backend)) if kubernetes else None
        self.back_s: float | None = None  # seconds after the load until the workers were back at min_workers
        self.samples: list[tuple[float, int, int | None]] = []  # on the ramp's clock, once wait_back() has run

    def __enter__(self) -> WorkerWatch:
        if self.timeline is not None:
            self.timeline.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and self.timeline is not None:
            self.timeline.__exit__(*exc)

    def wait_back(self, run: Any, timeout: float | None = None) -> str:
        """After ``run`` (the ``RampRun`` inside the ``with``): wait until the worker pods are back at
        ``min_workers``, stop sampling, and say what the pods did on the ramp's clock. (On the local backend Step
        1b's ``scenarios.kind_only`` has said why there is nothing to wait for.)"""
        if self.timeline is None:
            return _("(local backend: no worker pods)")
        from helpers.progress import wait_for

        def back() -> tuple[bool, str]:
            ready_pods, desired = self.timeline.samples[-1][1:] if self.timeline.samples else (None, None)
            done = ready_pods == self.min_workers and desired == self.min_workers and self._pods_left() == ready_pods
            return done, _("{ready} worker pod(s) Ready, desired {desired}", ready=ready_pods, desired=desired)

        what = _(
            "worker pods back to {min} (idleTimeoutSeconds {idle})", min=self.min_workers, idle=self.idle_timeout_s
        )
        try:
            wait_for(what, back, timeout or self.idle_timeout_s + 180, interval=1.0)
        except TimeoutError:
            pass  # back_s stays None: the report and verdict() say so
        finally:
            self.timeline.__exit__(None, None, None)
        self.finish(run.traffic.start_time, run.load_end_s)
        return self.report()

    def finish(self, ramp_start: float, load_end_s: float) -> None:
        """The timeline's samples on the ramp's clock (it starts at ``ramp_start``, a ``time.monotonic()``; the
        watch began before it), and when after the load the pods were back at ``min_workers``."""
        offset = ramp_start - self.timeline.start
        self.samples = [(round(t - offset, 1), ready_pods, desired) for t, ready_pods, desired in self.timeline.samples]
        back_at = next((t for t, r, d in self.samples if t >= load_end_s and r == d == self.min_workers), None)
        self.back_s = round(back_at - load_end_s, 1) if back_at is not None else None

    def _pods_left(self) -> int:
        return len(self.backend.ray_pods("worker"))  # a deleted pod counts until it is gone

    def changes(self) -> list[tuple[float, int, int | None]]:
        """The samples where the Ready pods or the desired count changed (the first one too)."""
        kept, last = [], None
        for sample in self.samples:
            if sample[1:] != last:
                kept.append(sample)
                last = sample[1:]
        return kept

    def peak(self) -> int:
        return max((ready_pods for _t, ready_pods, _d in self.samples), default=0)

    def verdict(self) -> str:
        """What holds on every run on Kubernetes: a pod was added for the replicas, and the idle one went."""
        if self.timeline is None:
            return _("(local backend: no worker pods)")
        added = _("a worker pod added for the replicas: {added}", added=self.peak() > self.min_workers)
        went = self.back_s is not None
        back = _("back to {min} worker pod(s) after the load: {back}", min=self.min_workers, back=went)
        return f"{added}\n{back}"

    def report(self) -> str:
        if not self.samples and self.timeline is not None and self.timeline.misses:
            return _("no sample of the worker pods: {misses} reads failed", misses=self.timeline.misses)
        lines = [_("seconds after the start: worker pods Ready / desired (the RayCluster's desiredWorkerReplicas)")]
        lines += [f"  {t:>6.1f} s: {r} / {d}" for t, r, d in self.changes()]
        back = (
            _("back to {min} {seconds} s after the load", min=self.min_workers, seconds=self.back_s)
            if self.back_s is not None
            else _("not back to {min} within the wait", min=self.min_workers)
        )
        lines.append(_("worker pods: {min} -> peak {peak}; {back}", min=self.min_workers, peak=self.peak(), back=back))
        return "\n".join(lines)
