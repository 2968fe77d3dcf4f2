"""The labs run in CI with their solutions as the learner's answer files, and pass their own checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from helpers import checks, config, lab05_by_hand, runner
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
    assert tags.count("parameters") == 1
    assert any("if STRICT:\n    result.require()" in c.source for c in nb.cells if c.cell_type == "code")
    # The answer is a YAML file the learner edits; the solution is that file, solved.
    # (Lab 05's answer is a runbook of kubectl and curl: labs/solutions/lab05.sh.)
    assert runner.lab_solution(lab).suffix in (".yaml", ".sh") and runner.lab_solution(lab).exists()
    assert f"labs/solutions/{runner.lab_solution(lab).name}" in nb.cells[0].source
    # Labs are stored without outputs: the learner's run is the first one.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # Prose before each code cell; nbval markers as tags, never as comments.
    for before, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", cell.source[:60]
            assert "NBVAL" not in cell.source, cell.source[:60]
    assert "<details><summary>Hint" in json.dumps(nb)
    # What a pass looks like, from a real run of the solution.
    passing = [c.source for c in nb.cells if c.source.startswith("## What passing looks like")]
    assert len(passing) == 1 and f"✅ {lab.stem[:5]} passed: {checks.LABS[lab.stem[:5]]}" in passing[0]


def run_lab(lab: Path, solution: Path | None, strict: bool) -> nbformat.NotebookNode:
    """Run ``lab`` with ``solution`` as the learner's answer file (None: the lab's own starting file)."""
    answers = Path(os.environ["RAYSERVICE_TUTORIAL_LABS_ANSWERS"])
    if solution is not None:
        runner.with_answer(lab, solution, answers)
    else:
        (answers / checks.ANSWER_FILES[lab.stem[:5]]).unlink(missing_ok=True)
    result = runner.run_notebook(lab, OUT, {"STRICT": strict}, cwd=lab.parent)
    assert result.status == "ok", result.error
    return nbformat.read(OUT / lab.name, as_version=4)


def outputs(nb) -> str:
    return "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])
    )


def test_unsolved_lab01_gets_a_hint_not_a_traceback():
    nb = run_lab(LABS[0], solution=None, strict=False)
    text = outputs(nb)
    assert "❌ lab01 not yet. Hint: [api-version]" in text


# What each solution's pass must also say (beyond "passed"): lab04's point is that the serving replicas stay.
PASS_DETAILS = {"lab04": "Serve runs 4 replicas of hello, the 2 that were serving among them (none restarted)"}


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_passes_with_its_solution(lab: Path):
    nb = run_lab(lab, solution=runner.lab_solution(lab), strict=True)
    if lab.stem[:5] == "lab05":  # kubectl and curl need Kubernetes: on local each step says what it would check
        assert all(f"⏭ lab05, step {step}, needs Kubernetes" in outputs(nb) for step in lab05_by_hand.STEPS)
        return  # its pass with the solution: tests/host/test_lessons_on_host.py
    assert f"✅ {lab.stem.split('_')[0]} passed" in outputs(nb)
    assert PASS_DETAILS.get(lab.stem[:5], "") in outputs(nb)
    print(outputs(nb)[-3000:])  # pytest -s shows the passing output, for the lab's "What passing looks like"
