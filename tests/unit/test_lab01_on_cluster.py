"""Lab 01 on a cluster: after the file passes, the Secret it reads is made and the API server's dry run decides."""

from __future__ import annotations

import shutil

from helpers import checks
from helpers.backends.commands import Result
from helpers.kubectl import Kubectl


class Kube:
    def __init__(self):
        self.secrets = []

    def create_secret(self, namespace, name, data, labels):
        self.secrets.append((namespace, name, sorted(data), set(data.values())))
        return True


class Commands:
    def __init__(self, ok: bool, stderr: str = ""):
        self.ok, self.stderr, self.ran = ok, stderr, []

    def run(self, args, check=True, timeout=600, progress=None):
        self.ran.append(list(args))
        out = "rayservice.ray.io/ray-serve-app serverside-applied (server dry run)" if self.ok else ""
        return Result(list(args), 0 if self.ok else 1, out, self.stderr)


class Cluster:
    name = "host"
    namespace = "rayservice-tutorial"

    def __init__(self, ok=True, stderr=""):
        self.kube, self.commands, self.kubectl = Kube(), Commands(ok, stderr), Kubectl(self.namespace)


def solved(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    path = tmp_path / "lab01-ray-service.yaml"
    shutil.copyfile(checks.LABS_DIR / "solutions" / "lab01.yaml", path)
    return path


def test_on_a_cluster_the_solution_makes_its_secret_and_passes_the_servers_dry_run(tmp_path, monkeypatch, capsys):
    cluster = Cluster()
    result = checks.lab01(solved(tmp_path, monkeypatch), cluster)
    assert result.passed, result
    assert cluster.kube.secrets == [
        (
            "rayservice-tutorial",
            "aws-credentials",
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            {"lab01-not-a-real-key"},
        )
    ]
    (dry_run,) = cluster.commands.ran
    assert dry_run[:4] == ["kubectl", "apply", "--server-side", "--dry-run=server"]
    printed = capsys.readouterr().out
    assert '--from-literal=AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"' in printed  # typed from the environment
    assert any("the API server accepts it" in d for d in result.details)


def test_a_manifest_the_api_server_refuses_fails_with_its_message(tmp_path, monkeypatch):
    refused = 'The RayService "ray-serve-app" is invalid: spec.rayClusterConfig.headGroupSpec: Required value'
    result = checks.lab01(solved(tmp_path, monkeypatch), Cluster(ok=False, stderr=refused))
    assert not result.passed and "The API server refuses the manifest" in result.hint and refused in result.hint


def test_on_local_there_is_no_cluster_step(tmp_path, monkeypatch):
    class Local:
        name = "local"

    result = checks.lab01(solved(tmp_path, monkeypatch), Local())
    assert result.passed and not any("API server" in d for d in result.details)
