"""Lessons 01-05, 07 and 08, and labs 01, 02, 03, 07 and 05, on the host cluster, as a learner runs them with
`make run BACKEND=host`.

nbval checks each lesson against its stored outputs, with BACKEND="host" injected the way papermill does it and
sanitize-host.cfg for what a real cluster prints differently every run (pod and RayCluster names, IPs, ages).
Where a checked cell prints something else on a real cluster than on the local backend, the host's output is
kept in outputs-host.json (cell id -> text) and checked instead: `python -m helpers refresh-host` records it.
The labs run strict with their solutions as the learner's answer files (their checks fail the notebook).

These run after test_kuberay_behaviour.py (file order) on the session's cluster, in the lessons' own namespace:
the session's RayService is deleted first, so the 2-CPU node holds one RayService at a time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner
from helpers.backends import get_backend
from tests.nbval_run import nbval

from . import lessons

SANITIZE = Path(__file__).with_name("sanitize-host.cfg")
OUT = config.BUILD_DIR / "host-notebooks"


@pytest.fixture(scope="module")
def node_for_the_lessons(host_backend):
    host_backend.delete_service()
    host_backend.stop_port_forwards()  # the lessons' backend forwards the same ports, to its own namespace
    yield host_backend


@pytest.fixture
def beside_the_lessons():
    """A folder next to notebooks/: the lessons' relative paths (../manifests, ../build) hold from it too."""
    folder = Path(tempfile.mkdtemp(prefix=".host-lessons-", dir=config.PROJECT_ROOT))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(2400)
def test_the_lessons_on_the_host_cluster_match_their_stored_outputs(node_for_the_lessons, beside_the_lessons):
    copies = []
    for path in lessons.HOST_LESSONS:
        copy = beside_the_lessons / path.name
        nbformat.write(lessons.for_host(path), copy)
        copies.append(copy)
    result = nbval(*copies, sanitize=SANITIZE)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    cells = sum(1 for p in copies for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")
    assert f"{cells} passed" in result.stdout, result.stdout[-2000:]


@pytest.mark.timeout(1200)
def test_the_labs_on_the_host_cluster_pass_with_their_solutions(node_for_the_lessons, tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path / "answers"))
    monkeypatch.setenv("RAYSERVICE_HEADLESS", "1")
    for lab in lessons.HOST_LABS:
        if lab.stem.startswith("lab05"):
            # Lab 05 deploys its own RayService in its own namespace: the lessons' one goes first, so the 2-CPU node
            # runs one Ray cluster at a time (as a learner's would at the end of the day, after 09_cleanup).
            get_backend("host").delete_service(timeout=300)
        runner.with_answer(lab, runner.lab_solution(lab), Path(os.environ["RAYSERVICE_TUTORIAL_LABS_ANSWERS"]))
        result = runner.run_notebook(lab, OUT, {"BACKEND": "host", "STRICT": True}, cwd=lab.parent)
        assert result.status == "ok", f"{lab.name}: {result.error}\n{result.detail}"


def test_a_wrong_host_output_fails(tmp_path):
    """The host's stored outputs are checked: a changed one would fail (else the test above proves nothing)."""
    stored = lessons.host_outputs()
    assert stored, "no host outputs recorded"
    notebook, cells = next(iter(stored.items()))
    nb = lessons.for_host(config.NOTEBOOKS_DIR / notebook)
    cell_id, text = next(iter(cells.items()))
    (cell,) = [c for c in nb.cells if c.id == cell_id]
    assert cell.outputs[0]["text"] == text
