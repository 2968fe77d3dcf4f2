"""The labs run in CI with their solutions put into the answer cells, and pass their own checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from helpers import checks, config, runner
from helpers.backends.local import LocalBackend

pytestmark = pytest.mark.notebooks

LABS = runner.lab_notebooks()
OUT = config.BUILD_DIR / "labs"


@pytest.fixture(scope="module", autouse=True)
def own_work_dir_and_cleanup(tmp_path_factory):
    """Kernels inherit the environment: the labs write into a temp work dir, never into labs/answers/."""
    os.environ["RAYSERVICE_TUTORIAL_LABS_ANSWERS"] = str(tmp_path_factory.mktemp("labs-answers"))
    yield
    os.environ.pop("RAYSERVICE_TUTORIAL_LABS_ANSWERS")
    LocalBackend().down(quiet=True)


def test_four_labs_one_per_practised_lesson():
    assert [p.stem.split("_")[0] for p in LABS] == list(checks.LABS)


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_skeleton(lab: Path):
    nb = nbformat.read(lab, as_version=4)
    assert nb.cells[0].source.startswith("# Lab ") and "**Task:**" in nb.cells[0].source
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == 1 and tags.count("answer") == 1
    assert any("if STRICT:\n    result.require()" in c.source for c in nb.cells if c.cell_type == "code")
    assert runner.lab_solution(lab).exists()
    # Labs are stored without outputs: the learner's run is the first one.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    for before, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code" and "answer" not in cell.metadata.get("tags", []):
            assert before.cell_type in ("markdown", "code"), cell.source[:60]
    assert "<details><summary>Hint" in json.dumps(nb)


def run_lab(lab: Path, answer: str | None, strict: bool) -> nbformat.NotebookNode:
    source = runner.with_answer(lab, answer, OUT / "input") if answer is not None else lab
    result = runner.run_notebook(source, OUT, {"STRICT": strict}, cwd=lab.parent)
    assert result.status == "ok", result.error
    return nbformat.read(OUT / lab.name, as_version=4)


def outputs(nb) -> str:
    return "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])
    )


def test_unsolved_lab01_gets_a_hint_not_a_traceback():
    nb = run_lab(LABS[0], answer=None, strict=False)
    text = outputs(nb)
    assert "❌ lab01 not yet. Hint: [api-version]" in text


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_passes_with_its_solution(lab: Path):
    nb = run_lab(lab, answer=runner.lab_solution(lab).read_text(), strict=True)
    assert f"✅ {lab.stem.split('_')[0]} passed" in outputs(nb)
