"""The lessons on a real kind cluster: `make test-kind` (needs Docker, kind, kubectl and helm).

Not part of `make test`: this machine and the project's CI have no Docker engine. The GitHub
workflow .github/workflows/kind-e2e.yml runs it on a Docker host.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from helpers import config, preflight, runner
from helpers.backends.kind import KindBackend
from tests.nbval_run import nbval

CHECKS = preflight.run("kind")
pytestmark = [
    pytest.mark.kind,
    pytest.mark.skipif(
        not all(c.ok for c in CHECKS),
        reason="the kind backend cannot run here:\n" + preflight.report([c for c in CHECKS if not c.ok]),
    ),
]
SANITIZE = Path(__file__).with_name("sanitize-kind.cfg")
OUT = config.BUILD_DIR / "kind-notebooks"


@pytest.fixture(scope="module", autouse=True)
def delete_the_cluster_afterwards():
    yield
    if not config.PROJECT_ROOT.joinpath("build", "keep-kind").exists():
        KindBackend().down()


def test_papermill_runs_every_lesson_on_kind():
    results = runner.run_all("kind", out_dir=OUT / "papermill")
    print(runner.table(results))
    assert all(r.status == "ok" for r in results), runner.table(results)


def test_nbval_on_kind_matches_the_stored_outputs():
    """The stored (local) reference outputs, with BACKEND="kind" injected the way papermill does it. The copies sit
    in a folder next to notebooks/, so the lessons' relative paths (../manifests, ../build) hold."""
    folder = Path(tempfile.mkdtemp(prefix=".kind-lessons-", dir=config.PROJECT_ROOT))
    copies = []
    for path in runner.lesson_notebooks():
        nb = parameterize_notebook(load_notebook_node(str(path)), {"BACKEND": "kind"})
        copy = folder / path.name
        nbformat.write(nb, copy)
        copies.append(copy)
    result = nbval(*copies, sanitize=SANITIZE)
    shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-8000:]
