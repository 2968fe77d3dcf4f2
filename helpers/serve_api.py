"""Client for the Ray dashboard's Serve REST API: what the KubeRay operator itself calls.

KubeRay PUTs the serveConfigV2 (as JSON) to ``/api/serve/applications/`` and reads the status
back from ``GET /api/serve/applications/``; both backends use this client for that.
"""

from __future__ import annotations

from typing import Any

import requests

PATH = "/api/serve/applications/"


class ServeAPIError(RuntimeError):
    """The dashboard refused a request or could not be reached."""


class ServeAPI:
    def __init__(self, dashboard_url: str, timeout: float = 10.0):
        self.url = dashboard_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, **kwargs) -> requests.Response:
        try:
            response = self._session.request(method, self.url + PATH, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServeAPIError(f"cannot reach the Ray dashboard at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise ServeAPIError(f"{method} {PATH} answered {response.status_code}: {response.text.strip()[:2000]}")
        return response

    def put_config(self, serve_config: dict[str, Any]) -> None:
        """Deploy ``serve_config`` (replaces the whole config: omitted applications are deleted)."""
        self._call("PUT", json=serve_config)

    def details(self) -> dict[str, Any]:
        """The Serve instance details: applications, deployments, replicas, proxies."""
        return self._call("GET").json()

    def delete_all(self) -> None:
        """Shut Serve down: every application, the proxies and the controller."""
        self._call("DELETE")

    def reachable(self) -> bool:
        try:
            return self._session.get(self.url + "/api/version", timeout=2).ok
        except requests.RequestException:
            return False
