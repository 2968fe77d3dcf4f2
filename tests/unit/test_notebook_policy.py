"""One policy for notebook outputs in git (also run by pre-commit):

- lessons (notebooks/) are committed *executed*, as one real run recorded by `make notebooks`: their
  outputs are nbval's reference and what a learner sees before running anything. So: every code cell
  run once, in order; no error output; no timing metadata; no machine paths.
- labs (labs/) are committed *without outputs*: the learner's run is the first; CI runs them with
  their solutions (tests/notebooks/test_labs.py).
"""

import nbformat
import pytest

from helpers import config, runner

from ..notebook_paths import machine_paths

LESSONS = runner.lesson_notebooks()
LABS = runner.lab_notebooks()


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lessons_are_one_recorded_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "re-record with `make notebooks`"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert not any("execution" in c.metadata for c in nb.cells)
    assert not machine_paths(nb)


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.name)
def test_labs_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"clear the outputs of {path.name}"


def test_every_notebook_is_in_a_known_folder():
    everywhere = {p for p in config.PROJECT_ROOT.glob("*/*.ipynb") if p.parent.name in ("notebooks", "labs")}
    assert everywhere == set(LESSONS) | set(LABS)
