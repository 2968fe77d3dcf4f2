"""Waiting for a RayService on a real cluster, and saying what is wrong when the wait runs out.

Part of ``KubernetesBackend`` (this class is one of its bases). ``wait_ready`` waits for what a request will meet,
not only for KubeRay's Ready condition: Ready means "at least one serve endpoint", so it stays True through an
update and a head loss; the wait reads the RayService's status, Serve's own word and the serve Service's pods.
"""

from __future__ import annotations

import time

from helpers import status as status_mod
from helpers.backends.kubeapi import newest_first
from helpers.errors import BackendError, DeployFailedError
from helpers.kubectl import serve_service
from helpers.progress import wait_for
from helpers.serve_api import ServeAPIError

FAILED_CONFIRM_S = 5.0  # two of KubeRay's 2-s reconciles and more: how long a DEPLOY_FAILED must stay to count


class KubernetesWaits:
    def wait_ready(self, timeout: float = 600) -> float:
        """Wait until the operator has seen the latest spec, every app is RUNNING and Ready is True, on two reads
        one reconcile apart: right after an in-place serveConfigV2 update KubeRay writes the new observedGeneration
        with the OLD applications' statuses (RUNNING) for one reconcile, before its next one reads Serve's
        (tests/host/test_kuberay_behaviour.py). After a promotion one read is enough: the apps are the new
        RayCluster's."""
        wanted = self._state().get("apps", [])
        streak = [0]  # consecutive reads that said "done", 2 s apart (wait_for's interval: one reconcile)
        promoted = [False]  # a new RayCluster was promoted during this wait: its apps are the new config's

        def ready() -> tuple[bool, str]:
            done, detail = check()
            promoted[0] = promoted[0] or "pending cluster" in detail
            streak[0] = streak[0] + 1 if done else 0
            return streak[0] >= (1 if promoted[0] else 2), detail

        failing_since: dict[str, float] = {}  # app -> when a read of the current spec first showed it DEPLOY_FAILED

        def check() -> tuple[bool, str]:
            obj = self._resource()
            raw = obj.get("status") or {}
            seen = (raw.get("observedGeneration") or 0) >= (obj["metadata"].get("generation") or 0)
            # A failure counts once the operator has seen the spec and still shows it FAILED_CONFIRM_S later: right
            # after an apply the status can be the previous spec's (a rollback from a failed update shows that
            # failure for a reconcile or two, seen on the host cluster), and a real failure stays.
            failed = {}
            for side in ("activeServiceStatus", "pendingServiceStatus"):
                for app, app_status in ((raw.get(side) or {}).get("applicationStatuses") or {}).items():
                    if seen and app_status.get("status") == "DEPLOY_FAILED":
                        failed[app] = app_status.get("message", "")
            now = time.monotonic()
            for app in list(failing_since):
                if app not in failed:
                    del failing_since[app]
            for app, message in failed.items():
                if now - failing_since.setdefault(app, now) >= FAILED_CONFIRM_S:
                    raise DeployFailedError(app, message)
            active = (raw.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
            pending = (raw.get("pendingServiceStatus") or {}).get("rayClusterName")
            running = all((active.get(a) or {}).get("status") == "RUNNING" for a in wanted)
            current = status_mod.from_custom_resource(obj["metadata"]["name"], raw, None)
            done = seen and running and not pending and status_mod.is_ready(current)
            detail = status_mod.summary(current) + (f"; pending cluster {pending}" if pending else "")
            if done:
                # The RayService's status is KubeRay's last word, which can be old: while there is no head it
                # keeps what it last saw (RUNNING), and for a moment after a new head is ready it has not asked it
                # yet. Serve's own word, and a pod behind the serve Service, are what a request will meet.
                done, serving = self._serving(wanted)
                detail += "" if done else f"; {serving}"
            return done, detail

        seconds = wait_for(
            f"RayService {self._service_name()} to be Ready", ready, timeout, interval=2.0, on_timeout=self.diagnose
        )
        self.ensure_port_forwards()
        return seconds

    def _serving(self, apps: list[str]) -> tuple[bool, str]:
        """Serve (through the forward to the head) reports every app in ``apps`` RUNNING, and ``<name>-serve-svc``
        sends connections to at least one pod."""
        self.ensure_port_forwards()  # a port held by another program is no passing state: it raises, naming it
        try:
            listed = self.serve.details().get("applications") or {}
        except ServeAPIError as exc:
            return False, f"Serve's API not answering ({str(exc).splitlines()[0]})"
        states = {app: (listed.get(app) or {}).get("status") or "not listed" for app in apps}
        if any(state != "RUNNING" for state in states.values()):
            return False, "Serve says " + ", ".join(f"{a} {s}" for a, s in states.items())
        service = serve_service(self._state().get("service") or "")
        behind = self.kube.pods_behind(self.namespace, service)
        if not behind:
            return False, f"no pod behind {service} yet"
        if not self._routes_somewhere(service):
            return False, f"kube-proxy's rules do not send {service} to {', '.join(behind)} yet"
        return True, "serving"

    def _routes_somewhere(self, service: str) -> bool:
        """Whether connections to ``service`` reach a pod once its EndpointSlice has one: here at once (the forwards
        read the EndpointSlice); the host backend reads kube-proxy's rules, which follow within their sync period."""
        return True

    def diagnose(self) -> str:
        """What the cluster looks like: pods that are not ready and why, recent warnings, app messages."""
        lines = []
        for pod in self.kube.list_pods(self.namespace, "ray.io/is-ray-node=yes"):
            meta, status = pod["metadata"], pod.get("status") or {}
            containers = status.get("container_statuses") or []
            waiting = [((cs.get("state") or {}).get("waiting") or {}) for cs in containers]
            reasons = [w.get("reason") for w in waiting if w.get("reason")]
            if status.get("phase") != "Running" or reasons:
                lines.append(f"pod {meta['name']}: {status.get('phase')} {', '.join(r for r in reasons if r)}")
            for cs in containers:
                # A container that has exited since it started: how it ended, and the end of that run's log
                # (kubectl logs --previous), which says why a pod is in CrashLoopBackOff.
                ended = (cs.get("last_state") or {}).get("terminated")
                if ended and cs.get("restart_count"):
                    lines.append(
                        f"  container {cs['name']} restarted {cs['restart_count']} time(s); last run ended "
                        f"{ended.get('reason')} (exit code {ended.get('exit_code')}); its last log lines:"
                    )
                    log = self.kube.pod_log(self.namespace, meta["name"], cs["name"], previous=True)
                    lines.extend("    " + line for line in log.rstrip().splitlines()[-15:])
        # The API lists events by name, not time: newest first by their last (or only) timestamp.
        for event in newest_first(self.kube.list_events(self.namespace))[:10]:
            if event.get("type") == "Warning":
                involved = event.get("involved_object") or {}
                lines.append(
                    f"event {involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: "
                    f"{event.get('message')}"
                )
        serve = ""
        try:
            obj = self._resource()
            serve = (
                status_mod.timeout_report(
                    status_mod.from_custom_resource(obj["metadata"]["name"], obj.get("status") or {}, None)
                )
                + "\n"
            )
        except BackendError:
            pass
        return (
            serve + "What the cluster looks like:\n  " + ("\n  ".join(lines) or "(no pod problems or warnings found)")
        )
