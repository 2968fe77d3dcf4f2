"""What the fake's API returns (tests/kuberay_fake/timeline.py): pods, Services and their EndpointSlices, and
the RayService's status, in the shapes KubeAPI returns them."""

from __future__ import annotations

import copy
from typing import Any

from helpers.backends.kubeapi import ready_pods

from .objects import HEAD_PORTS, SERVE_PORTS, Cluster, Pod, Service, deployment_names


class Views:
    # -- Services and their EndpointSlices (what a forward that follows the Service reads) ---------

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("read_service", namespace, name))
        found = self._service(name) if namespace == self.namespace else None
        if found is None:
            return None
        ports, selector = found
        return {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": selector,
                "ports": [{"name": n, "port": p, "target_port": p, "protocol": "TCP"} for n, p in ports.items()],
            },
        }

    def pods_behind(self, namespace: str, service: str) -> list[str]:
        return ready_pods(self.list_endpoint_slices(namespace, service))

    def list_endpoint_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """The Service's EndpointSlices (label kubernetes.io/service-name=<service>): every pod its selector
        matches, ready or not (terminating pods: ready False, terminating True)."""
        self.calls.append(("list_endpoint_slices", namespace, service))
        found = self._service(service) if namespace == self.namespace else None
        if found is None:
            return []
        ports, selector = found
        endpoints = [
            {
                "addresses": [p.ip],
                "conditions": {
                    "ready": self._serving(p),
                    "serving": self._pod_ready(p),
                    "terminating": p.deleted_at is not None,
                },
                "target_ref": {"kind": "Pod", "name": p.name, "namespace": namespace},
            }
            for p in sorted(self.pods.values(), key=lambda p: p.name)
            if all(self._labels(p).get(k) == v for k, v in selector.items())
        ]
        return [
            {
                "metadata": {"name": f"{service}-x7k2p", "labels": {"kubernetes.io/service-name": service}},
                "address_type": "IPv4",
                "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports.items()],
                "endpoints": endpoints,
            }
        ]

    def _service(self, name: str) -> tuple[dict[str, int], dict[str, str]] | None:
        for svc in self.services.values():
            if not svc.active:
                continue  # KubeRay creates the Services once a cluster is promoted
            if name == f"{svc.name}-head-svc":
                return HEAD_PORTS, {"ray.io/cluster": svc.active, "ray.io/node-type": "head"}
            if name == f"{svc.name}-serve-svc" and svc.serve_svc:
                return SERVE_PORTS, {"ray.io/cluster": svc.active, "ray.io/serve": "true"}
        return None

    def _labels(self, pod: Pod) -> dict[str, str]:
        labels = dict(pod.labels)
        cluster = self.clusters.get(pod.cluster)
        if cluster is not None and self._serving(pod) and (self._apps_running(cluster) or pod.old_serve):
            labels["ray.io/serve"] = "true"  # KubeRay labels pods whose proxy can serve
        elif (
            cluster is not None
            and cluster.ft
            and pod.node_type == "worker"
            and self._serving(pod)
            and cluster.ready_at is not None
            and self.clock.now >= cluster.ready_at
        ):
            labels["ray.io/serve"] = "true"  # with GCS FT the workers' proxies and replicas outlive the head
        return labels

    def pod_annotations(self, pod: Pod) -> dict[str, str]:
        cluster = self.clusters.get(pod.cluster)
        if pod.node_type != "head" or cluster is None:
            return {}
        annotations = {"ray.io/ft-enabled": str(cluster.ft).lower()}
        if cluster.ft:
            annotations["ray.io/external-storage-namespace"] = cluster.uid
        return annotations

    def _pod_dict(self, pod: Pod) -> dict[str, Any]:
        now = self.clock.now
        phase = "Running" if now >= pod.running_at else "Pending"
        if pod.deleted_at is not None and pod.node_type == "head" and now >= pod.deleted_at + self.termination_seconds:
            phase = "Failed"  # its container exited (Ray's exit code), the pod not yet removed
        ready = "True" if self._pod_ready(pod) else "False"
        return {
            "metadata": {
                "name": pod.name,
                "namespace": self.namespace,
                "labels": self._labels(pod),
                "annotations": self.pod_annotations(pod),
                "deletion_timestamp": pod.deleted_at,
            },
            "status": {
                "phase": phase,
                "pod_ip": pod.ip,
                "container_statuses": [{"name": f"ray-{pod.node_type}", "restart_count": pod.restarts}],
                "conditions": [{"type": "Ready", "status": ready}],
            },
        }

    def _app_statuses(self, cluster: Cluster | None) -> dict[str, Any]:
        now = self.clock.now
        if cluster is None:
            return {}
        if cluster.promoted_at is not None and now < cluster.promoted_at + 1.0:
            return {}  # promoted: KubeRay shows its applications from its next reconcile
        heads = [p for p in self.pods.values() if p.cluster == cluster.name and p.node_type == "head"]
        if cluster.head_seen_at is not None and not any(self._serving(p) for p in heads):
            return {}  # a new head runs but its dashboard does not answer yet: no application to show
        if cluster.ft and not self._apps_running(cluster):
            return {}  # the new head's Serve controller has not read its applications back from Redis yet
        running = self._apps_running(cluster) and now >= cluster.deployed_at
        unhealthy = running and now < cluster.unhealthy_until
        svc = self.services.get(cluster.service)
        deployments = deployment_names(svc.spec) if svc else {}
        return {
            app: {
                "status": ("UNHEALTHY" if unhealthy else "RUNNING") if running else "DEPLOYING",
                "message": "",
                # KubeRay copies Serve's per-deployment status (HEALTHY once the app runs).
                "serveDeploymentStatuses": {
                    d: {"status": "HEALTHY" if running else "UPDATING", "message": ""} for d in deployments.get(app, [])
                },
            }
            for app in cluster.apps
        }

    def _status(self, svc: Service) -> dict[str, Any]:
        if svc.frozen is not None:
            return copy.deepcopy(svc.frozen)
        active = self.clusters.get(svc.active) if svc.active else None
        pending = self.clusters.get(svc.pending) if svc.pending else None
        endpoints = sum(
            1 for p in self.pods.values() if active and p.cluster == active.name and "ray.io/serve" in self._labels(p)
        )
        stamp = "2026-11-29T07:00:00Z"
        if active is None:
            ready = ("False", "Initializing")
        else:
            ready = ("True", "NonZeroServeEndpoints") if endpoints else ("False", "ZeroServeEndpoints")
        if active and pending:
            upgrade = ("True", "BothActivePendingClustersExist")
        elif pending:
            upgrade = ("Unknown", "NoActiveCluster")
        else:
            upgrade = ("False", "NoPendingCluster")
        return {
            "observedGeneration": svc.observed,
            "numServeEndpoints": endpoints,
            "conditions": [
                {"type": "Ready", "status": ready[0], "reason": ready[1], "message": "", "lastTransitionTime": stamp},
                {
                    "type": "UpgradeInProgress",
                    "status": upgrade[0],
                    "reason": upgrade[1],
                    "message": "",
                    "lastTransitionTime": stamp,
                },
            ],
            "activeServiceStatus": (
                {"rayClusterName": active.name, "applicationStatuses": self._app_statuses(active)} if active else {}
            ),
            "pendingServiceStatus": (
                {"rayClusterName": pending.name, "applicationStatuses": self._app_statuses(pending)} if pending else {}
            ),
        }
