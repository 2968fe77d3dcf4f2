"""KubeAPI (the official `kubernetes` client) against a recording API server on 127.0.0.1.

No Kubernetes runs here, so a small HTTP server plays the API server: it answers discovery and
records every request. The tests check the real HTTP the client sends: method, path, query
(fieldManager, force, labelSelector) and content type of the server-side apply.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from helpers.backends.kubeapi import KubeAPI

from ..fakes import write_kubeconfig

RESOURCES = {
    "/api/v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("pods", "Pod", True),
        ("events", "Event", True),
    ],
    "/apis/ray.io/v1": [("rayservices", "RayService", True)],
    "/apis/apps/v1": [("deployments", "Deployment", True)],
    "/apis/apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
}


class RecordingAPIServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.objects: dict[str, dict] = {}  # path -> object answered on GET
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "content_type": self.headers.get("Content-Type"),
                        "body": body,
                    }
                )
                answer = outer.answer(self.command, url.path, body)
                self._answer(*answer)

            do_GET = do_PATCH = do_DELETE = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str, body: str) -> tuple[int, dict]:
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = [
                {
                    "name": g.split("/")[2],
                    "versions": [{"groupVersion": g[6:], "version": "v1"}],
                    "preferredVersion": {"groupVersion": g[6:], "version": "v1"},
                }
                for g in RESOURCES
                if g.startswith("/apis/")
            ]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if path in RESOURCES:
            return 200, {
                "kind": "APIResourceList",
                "groupVersion": path.split("/", 2)[-1] if path != "/api/v1" else "v1",
                "resources": [
                    {
                        "name": n,
                        "singularName": "",
                        "namespaced": ns,
                        "kind": k,
                        "verbs": ["get", "list", "patch", "delete", "create"],
                    }
                    for n, k, ns in RESOURCES[path]
                ],
            }
        if method == "PATCH":
            return 200, yaml.safe_load(body)
        if method == "DELETE" and "/pods/" in path:  # the API server answers with the deleted Pod
            return 200, {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": path.rsplit("/", 1)[1]}}
        if method == "DELETE":
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        if path in self.objects:
            return 200, self.objects[path]
        if path.endswith("/pods"):
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method]


@pytest.fixture
def api(tmp_path, monkeypatch):
    server = RecordingAPIServer()
    path = write_kubeconfig(tmp_path, server.url)
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path))  # the dynamic client's discovery cache goes under it
    yield KubeAPI(context="kind-rayservice-tutorial"), server
    server.close()


def test_server_side_apply_of_a_rayservice(api):
    client, server = api
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "ray-serve-app", "namespace": "alice"},
        "spec": {"serveConfigV2": "applications: []"},
    }
    client.apply(obj)
    (patch,) = server.calls("PATCH")
    assert patch["path"] == "/apis/ray.io/v1/namespaces/alice/rayservices/ray-serve-app"
    assert patch["content_type"] == "application/apply-patch+yaml"
    assert patch["query"] == {"fieldManager": ["rayservice-tutorial"], "force": ["true"]}
    assert yaml.safe_load(patch["body"]) == obj


def test_apply_of_core_objects(api):
    client, server = api
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alice"}})
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "apps", "namespace": "alice"},
            "data": {"a.py": "x = 1"},
        }
    )
    assert [p["path"] for p in server.calls("PATCH")] == [
        "/api/v1/namespaces/alice",
        "/api/v1/namespaces/alice/configmaps/apps",
    ]


def test_reads_deletes_and_selectors(api):
    client, server = api
    server.objects["/apis/ray.io/v1/namespaces/alice/rayservices/ray-serve-app"] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "ray-serve-app"},
        "status": {"activeServiceStatus": {"rayClusterName": "ray-serve-app-abcde"}},
    }
    assert client.get_rayservice("alice", "ray-serve-app")["status"]["activeServiceStatus"]["rayClusterName"] == (
        "ray-serve-app-abcde"
    )
    assert client.get_rayservice("alice", "missing") is None
    assert client.crd_installed() is False
    assert client.list_pods("alice", "ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=worker") == []
    (pods,) = [r for r in server.calls("GET") if r["path"] == "/api/v1/namespaces/alice/pods"]
    assert pods["query"]["labelSelector"] == ["ray.io/cluster=ray-serve-app-abcde,ray.io/node-type=worker"]
    client.delete_pod("alice", "ray-serve-app-abcde-head-x1")
    client.delete_rayservice("alice", "ray-serve-app")
    assert [d["path"] for d in server.calls("DELETE")] == [
        "/api/v1/namespaces/alice/pods/ray-serve-app-abcde-head-x1",
        "/apis/ray.io/v1/namespaces/alice/rayservices/ray-serve-app",
    ]
    assert client.deployment_available("kuberay-system", "kuberay-operator") is False
    assert server.calls("GET")[-1]["path"] == "/apis/apps/v1/namespaces/kuberay-system/deployments/kuberay-operator"


def test_timeout_diagnosis_through_the_real_client(api, tmp_path):
    """diagnose() reads pods and events as the client returns them (snake_case, None for absent)."""
    from helpers.backends.kube import KubernetesBackend

    client, server = api
    server.objects["/api/v1/namespaces/alice/pods"] = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": "ray-serve-app-abcde-head-x1", "labels": {"ray.io/node-type": "head"}},
                "status": {
                    "phase": "Pending",
                    "containerStatuses": [
                        {
                            "name": "ray-head",
                            "image": "rayproject/ray:2.55.1",
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
                        }
                    ],
                },
            },
            {"metadata": {"name": "ray-serve-app-abcde-workers-worker-a1"}, "status": {"phase": "Running"}},
        ],
    }
    server.objects["/api/v1/namespaces/alice/events"] = {
        "kind": "EventList",
        "apiVersion": "v1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": "e1"},
                "type": "Warning",
                "reason": "Failed",
                "message": "ErrImagePull",
                "involvedObject": {"kind": "Pod", "name": "ray-serve-app-abcde-head-x1"},
            },
            {
                "metadata": {"name": "e2"},
                "type": "Normal",
                "reason": "Scheduled",
                "message": "ok",
                "involvedObject": {"kind": "Pod", "name": "ray-serve-app-abcde-head-x1"},
            },
        ],
    }
    backend = KubernetesBackend(namespace="alice", state_dir=tmp_path, kube=client)
    text = backend.diagnose()
    assert "pod ray-serve-app-abcde-head-x1: Pending ImagePullBackOff" in text
    assert "event Pod/ray-serve-app-abcde-head-x1: Failed: ErrImagePull" in text
    assert "workers-worker-a1" not in text and "Scheduled" not in text
    (pods,) = [r for r in server.calls("GET") if r["path"] == "/api/v1/namespaces/alice/pods"]
    assert pods["query"]["labelSelector"] == ["ray.io/is-ray-node=yes"]


def test_timeout_diagnosis_shows_how_a_crashing_container_ended(api, tmp_path):
    """A pod in CrashLoopBackOff: the diagnosis says how its last run ended and shows the end of that run's log
    (what `kubectl logs --previous` shows), read through the real client with previous=true."""
    from helpers.backends.kube import KubernetesBackend

    client, server = api
    name = "ray-serve-app-fghij-head-y2"
    server.objects["/api/v1/namespaces/alice/pods"] = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": name},
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "ray-head",
                            "image": "rayproject/ray:2.55.1",
                            "imageID": "",
                            "ready": False,
                            "restartCount": 3,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                        }
                    ],
                },
            }
        ],
    }
    server.objects[f"/api/v1/namespaces/alice/pods/{name}/log"] = "starting GCS\nsomething went wrong here"
    backend = KubernetesBackend(namespace="alice", state_dir=tmp_path, kube=client)
    text = backend.diagnose()
    assert f"pod {name}: Running CrashLoopBackOff" in text
    assert "container ray-head restarted 3 time(s); last run ended OOMKilled (exit code 137)" in text
    assert "    something went wrong here" in text
    (log,) = [r for r in server.calls("GET") if r["path"].endswith("/log")]
    assert log["query"]["previous"] == ["true"] and log["query"]["container"] == ["ray-head"]
