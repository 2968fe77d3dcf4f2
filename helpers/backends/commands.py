"""Running the command-line tools the kind backend needs (docker, kind, kubectl, helm).

Everything goes through one ``Commands`` object so tests can swap in a recorder and check
each command exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import config, procs
from helpers.errors import BackendError

INSTALL_HINTS = {
    "docker": "install Docker Desktop or Docker Engine (https://docs.docker.com/get-docker/) and start it",
    "kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), e.g. `go install "
    "sigs.k8s.io/kind@v0.30.0` or `brew install kind`",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/), e.g. `brew install kubectl`",
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/), e.g. `brew install helm`",
}


class ToolMissing(BackendError):
    def __init__(self, tool: str):
        self.tool = tool
        super().__init__(f"`{tool}` is not installed or not on PATH: {INSTALL_HINTS.get(tool, 'install it')}.")


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Commands:
    """Runs commands for real, from the repository root (where the commands the lessons print are typed, so a path
    such as ``build/ray-service.yaml`` means the same file in both); ``extra_env`` (e.g. a cluster's KUBECONFIG and
    PATH) is laid over the environment."""

    def __init__(self, extra_env: dict[str, str] | None = None):
        self.extra_env = dict(extra_env or {})

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        return {**(os.environ if base is None else base), **self.extra_env}

    def which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env().get("PATH"))

    def run(self, args: list[str], check: bool = True, timeout: float = 600, progress: str | None = None) -> Result:
        """Run ``args``; with ``progress``, show a status line while it runs (for long commands)."""
        if not self.which(args[0]):
            raise ToolMissing(args[0])
        if progress:
            done = self._run_with_progress(args, timeout, progress)
        else:
            try:
                done = subprocess.run(
                    args,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                    env=self.env(),
                    cwd=config.PROJECT_ROOT,
                )
            except subprocess.TimeoutExpired:
                raise BackendError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s") from None
        result = Result(list(args), done.returncode, done.stdout, done.stderr)
        if check and not result.ok:
            raise BackendError(
                f"`{' '.join(args)}` failed (exit code {done.returncode}):\n"
                + (done.stderr or done.stdout).strip()[-2000:]
            )
        return result

    def _run_with_progress(self, args: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
        import tempfile

        from helpers.progress import wait_for

        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, env=self.env(), cwd=config.PROJECT_ROOT)
            try:
                wait_for(what, lambda: (proc.poll() is not None, f"`{args[0]} {args[1]}` running"), timeout, 1.0)
            except (TimeoutError, KeyboardInterrupt):
                proc.kill()
                proc.wait()
                raise
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())

    def start(self, args: list[str], env: dict[str, str], log: Path) -> int:
        """Start a long-running command (a port-forward) detached; return its PID."""
        if not self.which(args[0]):
            raise ToolMissing(args[0])
        return procs.start_detached(args, self.env(env), log).pid
