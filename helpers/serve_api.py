"""Client for the Ray dashboard's Serve REST API: what the KubeRay operator itself calls.

KubeRay PUTs the serveConfigV2 (as JSON) to ``/api/serve/applications/`` and reads the status
back from ``GET /api/serve/applications/``; both backends use this client for that.

With Ray's token authentication on (``RAY_AUTH_MODE=token``; KubeRay: ``authOptions: {mode: token}``)
every dashboard call carries ``Authorization: Bearer <token>``; ``token`` is a callable so the token
is read when needed (it exists only once the cluster is up).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

PATH = "/api/serve/applications/"
# The first PUT to a new cluster starts Serve's controller first: over 10 s on a busy 2-core machine.
PUT_TIMEOUT = 60.0
RETRY_AFTER_401_S = 1.0


class ServeAPIError(RuntimeError):
    """The dashboard refused a request or could not be reached. ``transient``: unreachable or a 5xx (a head
    starting, Serve's controller recovering), worth asking again; otherwise the request itself was refused."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ServeAPI:
    def __init__(self, dashboard_url: str, timeout: float = 10.0, token: Callable[[], str | None] | None = None):
        self.url = dashboard_url.rstrip("/")
        self.timeout = timeout
        self.token = token or (lambda: None)
        self._session = requests.Session()

    def _headers(self) -> dict[str, str]:
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _request(self, method: str, path: str, timeout: float | None, **kwargs) -> requests.Response:
        def send() -> requests.Response:
            return self._session.request(
                method, self.url + path, timeout=timeout or self.timeout, headers=self._headers(), **kwargs
            )

        try:
            try:
                return send()
            except requests.ConnectionError:
                if method != "GET":
                    raise  # a write may have arrived: the caller decides
                # On Kubernetes a kept-alive connection leads to the pod the forward picked when it opened: after
                # a head pod is replaced or a RayCluster promoted, that pod is gone. A read is asked again once, on
                # a new connection, which the forward sends to the pod behind the Service now.
                self._new_session()
                return send()
        except requests.RequestException as exc:
            raise ServeAPIError(f"cannot reach the Ray dashboard at {self.url}: {exc}", transient=True) from None

    def _new_session(self) -> None:
        self._session.close()
        self._session = requests.Session()

    def _call(self, method: str, path: str = PATH, timeout: float | None = None, **kwargs) -> requests.Response:
        response = self._request(method, path, timeout, **kwargs)
        if response.status_code in (401, 403):
            # On Kubernetes each RayCluster has its own token, and at a cluster upgrade's promotion the token
            # (read for the active cluster) and the head a kept-alive connection reaches can briefly belong to
            # different clusters. Once: a new connection (the forward picks the Service's pod now) and the
            # token read again.
            self._new_session()
            time.sleep(RETRY_AFTER_401_S)
            response = self._request(method, path, timeout, **kwargs)
        if response.status_code in (401, 403):
            raise ServeAPIError(
                f"{method} {path} answered {response.status_code}: the cluster uses token authentication and "
                "this client has no (or the wrong) token. The local backend keeps it in its state folder "
                "(auth_token); on Kubernetes it is in the Secret KubeRay made (key auth_token)."
            )
        if response.status_code >= 400:
            raise ServeAPIError(
                f"{method} {path} answered {response.status_code}: {response.text.strip()[:2000]}",
                transient=response.status_code >= 500,
            )
        return response

    def put_config(self, serve_config: dict[str, Any]) -> None:
        """Deploy ``serve_config`` (replaces the whole config: omitted applications are deleted)."""
        self._call("PUT", json=serve_config, timeout=max(self.timeout, PUT_TIMEOUT))

    def details(self) -> dict[str, Any]:
        """The Serve instance details: applications, deployments, replicas, proxies."""
        return self._call("GET").json()

    def delete_all(self) -> None:
        """Shut Serve down: every application, the proxies and the controller."""
        self._call("DELETE")

    def get_json(self, path: str) -> Any:
        """Any other dashboard endpoint, e.g. ``/nodes?view=summary``."""
        return self._call("GET", path).json()

    def reachable(self) -> bool:
        try:
            return self._session.get(self.url + "/api/version", timeout=2, headers=self._headers()).ok
        except requests.RequestException:
            return False
