"""Lesson 04's faults on a real cluster, made as a learner would make them with kubectl (delete a pod, kill a process
in one with ``kubectl exec``), each returning what it hit (``helpers.backends.faults``) and the waits after them.
Part of ``KubernetesBackend`` (this class is one of its bases): it uses the backend's client, kubectl and state."""

from __future__ import annotations

import time
from typing import Any

from helpers import status as status_mod
from helpers.backends.faults import HeadLost, ProxyKilled, ReplicaKilled, WorkerLost
from helpers.backends.kubeapi import pod_ready, terminating
from helpers.errors import BackendError
from helpers.kubectl import serve_service
from helpers.progress import wait_for
from helpers.serve_api import ServeAPIError

HEAD_TIMEOUT = 300.0  # a new head pod: scheduling, the image, Ray's start (KubeRay's own estimate is ~120 s)


class KubernetesFaults:
    def kill_replica(self, app: str) -> ReplicaKilled:
        """SIGKILL one replica process of ``app`` inside its pod; Serve starts a replacement."""
        replicas = self.running_replicas(app)
        if not replicas:
            raise BackendError(f"Application {app!r} has no running replica to kill.")
        victim = replicas[0]
        pods = [
            p
            for p in self.ray_pods("head") + self.ray_pods("worker")
            if (p.get("status") or {}).get("pod_ip") == victim["node_ip"]
        ]
        if not pods:
            raise BackendError(f"No pod has the replica's node IP {victim['node_ip']}.")
        pod = pods[0]["metadata"]["name"]
        self.on_kubernetes(self.kubectl.exec(pod, "kill", "-9", str(victim["pid"])), check=True)
        return ReplicaKilled(pod=pod, pid=victim["pid"], replica=victim["replica_id"], node=victim["node_id"][:8])

    def lose_worker(self, index: int = 0, restart_after: float = 0.0, timeout: float = 120) -> WorkerLost:
        """Delete worker pod ``index`` (by name; the local backend's node loss): KubeRay creates a new pod in
        its place and Serve re-places its replicas. Returns the pod and the replicas it held (None when Serve's
        API could not say)."""
        pods = sorted((p for p in self.ray_pods("worker") if not terminating(p)), key=lambda p: p["metadata"]["name"])
        if not 0 <= index < len(pods):
            raise BackendError(f"There is no worker pod {index}: the active cluster has {len(pods)}.")
        held = self._replicas_in(pods[index])
        name = pods[index]["metadata"]["name"]
        self.on_kubernetes(self.kubectl.delete_pod(name), check=True)
        return WorkerLost(pod=name, node=name, replicas=held)

    def _replicas_in(self, pod: dict[str, Any]) -> list[str] | None:
        """The ids of the replicas (of every application) running in ``pod``, from Serve's API."""
        try:
            self.ensure_port_forwards()
            details = self.serve.details()
        except (ServeAPIError, BackendError):
            return None
        ip = (pod.get("status") or {}).get("pod_ip")
        return [r["replica_id"] for r in status_mod.replicas(details) if r.get("node_ip") == ip]

    def wait_for_another_proxy(self, timeout: float = 120.0) -> float:
        """Until a pod other than the head is behind ``<name>-serve-svc``: a worker pod is in it once its readiness
        probe finds its proxy healthy (right after a lost worker, the new pod's proxy may still be starting; Serve
        runs one only on a node with a replica). Killing the head's proxy before that would leave the Service
        with no pod. Returns the seconds waited."""
        service = serve_service(self._state().get("service") or "")
        (head,) = self.ray_pods("head")

        def another() -> tuple[bool, str]:
            behind = [p for p in self.kube.pods_behind(self.namespace, service) if p != head["metadata"]["name"]]
            return bool(behind), f"{service} sends to {', '.join(behind)}" if behind else f"only the head in {service}"

        try:
            return wait_for(f"a worker pod behind {service}", another, timeout, interval=0.5)
        except TimeoutError:
            raise BackendError(
                f"No worker pod is behind {service} (waited {timeout:.0f} s): Serve runs a proxy only on a node with "
                "a replica, and killing the head's proxy would leave the Service with no pod. Spread the replicas "
                "(`max_replicas_per_node: 1`, lesson 04a's Step 1), then try again."
            ) from None

    def kill_proxy(self) -> ProxyKilled:
        """SIGKILL the HTTP proxy inside the head pod; Serve restarts it after failed health checks."""
        (head,) = self.ray_pods("head")
        name = head["metadata"]["name"]
        self.ensure_port_forwards()
        details = self.serve.details()
        head_node = (details.get("controller_info") or {}).get("node_id")
        old = ((details.get("proxies") or {}).get(head_node) or {}).get("actor_id")
        self.on_kubernetes(self.kubectl.exec(name, "pkill", "-9", "-f", "ray::ProxyActor"), check=True)
        contained = self._wait_out_of_serve_service(head)
        return ProxyKilled(pod=name, node_id=head_node, proxy_actor=old, contained_at=contained)

    def _wait_out_of_serve_service(self, pod: dict[str, Any], timeout: float = 60.0) -> float | None:
        """Until ``pod`` gets no new connection through ``<name>-serve-svc``: KubeRay sets its ``ray.io/serve`` label
        to false when its proxy does not answer, a deleted pod is terminating at once, and the Service's
        EndpointSlice drops it (and, where kube-proxy's rules are on this machine, they drop it too). Until then
        the Service still sends the pod new connections, which a dead proxy fails. Returns that moment
        (``time.monotonic()``), None if the pod still got connections after ``timeout`` s."""
        service = serve_service(self._state().get("service") or "")
        name = pod["metadata"]["name"]
        address = (pod.get("status") or {}).get("pod_ip")

        def gone() -> tuple[bool, str]:
            behind = self.kube.pods_behind(self.namespace, service)
            if name in behind:
                return False, f"{service} sends to {', '.join(behind)}"
            if address and self._routes_to(service, address):
                return False, f"kube-proxy's rules still send {service} to {address}"
            return True, f"{service} sends to {', '.join(behind) or 'no pod'}"

        try:
            wait_for(f"{name} to leave {service}", gone, timeout, interval=0.2)
        except TimeoutError:
            return None
        return time.monotonic()

    def _routes_to(self, service: str, address: str) -> bool:
        """Whether connections to ``service`` still reach ``address`` once its EndpointSlice has dropped the pod:
        here they do not (the forwards read the EndpointSlice for every connection); the host backend, whose
        forwards go through kube-proxy's rules, reads those."""
        return False

    def delete_head_pod(self) -> HeadLost:
        """Delete the head pod and wait until KubeRay's new head pod (a new name) is ready.

        Without GCS fault tolerance the new head starts an empty GCS: KubeRay deploys the applications again
        (the worker pods' raylets lose their GCS and restart). With it (gcsFaultToleranceOptions), the new head
        reads the GCS tables back from Redis, the worker raylets reconnect (KubeRay gives them
        RAY_gcs_rpc_server_reconnect_timeout_s=600), Serve's controller recovers its applications, and the worker
        pods serve meanwhile. Returns the pod deleted, the new head and ``head_back_s`` (seconds from the delete
        until the new head pod was ready); ``wait_head_back`` also waits for Serve."""
        (head,) = self.ray_pods("head")
        old = head["metadata"]["name"]
        lost = self._replicas_in(head)
        self.on_kubernetes(self.kubectl.delete_pod(old), check=True)
        contained = self._wait_out_of_serve_service(head)
        new, seconds = self._wait_new_head(old, HEAD_TIMEOUT)
        return HeadLost(
            pod=old,
            contained_at=contained,
            head=new,
            head_back_s=round(seconds, 1),
            gcs_fault_tolerance=bool(self._state().get("gcs_ft")),
            replicas=lost,
        )

    def _wait_new_head(self, old_head: str, timeout: float) -> tuple[str, float]:
        found: dict[str, str] = {}

        def head_ready() -> tuple[bool, str]:
            heads = self.ray_pods("head")
            new = [p for p in heads if p["metadata"]["name"] != old_head]
            ready = [p["metadata"]["name"] for p in new if pod_ready(p)]
            if ready:
                found["head"] = ready[0]
                return True, f"{ready[0]} ready"
            if new:
                return False, f"{new[0]['metadata']['name']} {(new[0].get('status') or {}).get('phase')}"
            return False, f"{old_head} deleted, no new head pod yet"

        seconds = wait_for("a new head pod to be ready", head_ready, timeout, interval=1.0, on_timeout=self.diagnose)
        return found["head"], seconds

    def wait_head_back(self, old_head: str, timeout: float = 300) -> dict[str, Any]:
        """After the head pod ``old_head`` was deleted: wait until a new head pod is ready, then until Serve (on
        that head, through the forward that follows ``<name>-head-svc``) reports every application RUNNING.

        Returns the new head's name and the seconds of each wait, from the call. The RayService's Ready
        condition is no measure of this: with GCS fault tolerance the workers keep serving, so Ready can
        stay True all along, and KubeRay reports the applications it last saw until it notices the head is gone."""
        head, head_s = self._wait_new_head(old_head, timeout)
        wanted = self._state().get("apps", [])

        def serve_running() -> tuple[bool, str]:
            try:
                self.ensure_port_forwards()
                apps = self.serve.details().get("applications") or {}
            except (ServeAPIError, BackendError) as exc:
                return False, f"Serve's API not answering yet ({str(exc).splitlines()[0]})"
            states = {app: (apps.get(app) or {}).get("status") or "not listed" for app in wanted}
            return all(s == "RUNNING" for s in states.values()), ", ".join(f"{a} {s}" for a, s in states.items())

        serve_s = wait_for(
            "Serve to report every application RUNNING", serve_running, max(timeout - head_s, 1.0), interval=1.0
        )
        return {"head": head, "head_ready_s": head_s, "serve_running_s": head_s + serve_s}
