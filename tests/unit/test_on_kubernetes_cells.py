"""The lessons' "On Kubernetes" cells, executed against the kind backend with a command recorder.

Every code cell tagged `on-kubernetes` is run as it stands in the lesson, with `backend` a KindBackend
whose commands are recorded. What the cell shows (`$ kubectl ...`) must be exactly what the backend ran,
and on the local backend the same cell shows the same command and runs nothing.
"""

from __future__ import annotations

import contextlib
import io
import shlex

import nbformat
import pytest

from helpers import runner
from helpers.backends.kind import KindBackend
from helpers.backends.local import LocalBackend
from helpers.manifests import load_manifest

from ..fakes import FakeCommands, FakeKube, rayservice

LESSONS = runner.lesson_notebooks()
NAMESPACE = "learner-3"


def on_kubernetes_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and "on-kubernetes" in c.metadata.get("tags", [])]


def parameters(path) -> dict:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    values: dict = {}
    exec(cell.source, {}, values)  # noqa: S102 - the lesson's own parameters cell: plain assignments
    return values


def run_cell(cell, backend, path, monkeypatch) -> str:
    values = parameters(path)
    manifest = load_manifest(values.get("MANIFEST", "../manifests/ray-service.yaml").removeprefix("../"))
    # The lessons name the RayService they applied `manifest` (lesson 05: `base`, its four-replica start).
    scope = {"backend": backend, "manifest": manifest, "base": manifest, "NAMESPACE": NAMESPACE}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(cell.source, scope)  # noqa: S102 - the lesson's cell, as a learner runs it
    return out.getvalue()


def test_most_lessons_show_kubernetes():
    with_cells = [p.name for p in LESSONS if on_kubernetes_cells(p)]
    assert len(with_cells) >= 6, f"lessons with On Kubernetes cells: {with_cells}"


@pytest.mark.parametrize("path", [p for p in LESSONS if on_kubernetes_cells(p)], ids=lambda p: p.name)
def test_the_kind_backend_runs_exactly_what_each_cell_shows(path, tmp_path, monkeypatch):
    monkeypatch.chdir(path.parents[1])
    for cell in on_kubernetes_cells(path):
        commands = FakeCommands(responses={("kubectl",): (0, "(recorded)", "")})
        kube = FakeKube()
        kube.rayservices = [rayservice(active="ray-serve-app-abcde")]
        backend = KindBackend(state_dir=tmp_path, namespace=NAMESPACE, commands=commands, kube=kube)
        shown = [line[2:] for line in run_cell(cell, backend, path, monkeypatch).splitlines() if line.startswith("$ ")]
        ran = [shlex.join(call) for call in commands.calls]
        assert shown, f"the cell shows no command:\n{cell.source}"
        assert shown == ran, f"shown {shown} but ran {ran}:\n{cell.source}"
        assert all(f"-n {NAMESPACE}" in command for command in ran), ran
        assert all("--context kind-" in command for command in ran), ran


@pytest.mark.parametrize("path", [p for p in LESSONS if on_kubernetes_cells(p)], ids=lambda p: p.name)
def test_the_local_backend_shows_the_same_commands_and_runs_none(path, tmp_path, monkeypatch):
    monkeypatch.chdir(path.parents[1])
    backend = LocalBackend(state_dir=tmp_path, namespace=NAMESPACE)
    for cell in on_kubernetes_cells(path):
        text = run_cell(cell, backend, path, monkeypatch)
        lines = text.splitlines()
        commands = [line for line in lines if line.startswith("$ kubectl ")]
        assert commands and all(f"-n {NAMESPACE}" in c for c in commands), text
        assert sum("(local backend, no Kubernetes here:" in line for line in lines) == len(commands), text
