"""`make run`'s output: one line per notebook, then the summary table; no kernel noise; a failure names
the notebook, the cell as the learner counts it, and the whole error.

Real papermill runs of tiny notebooks in the tutorial's kernel (no Ray), a few seconds each.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import config, runner

NOISE = ("without encryption", "KeyboardInterrupt", "Traceback", "WARNING", "ERROR")


def notebook(path: Path, *code: str) -> Path:
    """A lesson-shaped notebook: a parameters cell, then each code cell after a markdown cell."""
    cells = [new_markdown_cell("# A tiny lesson"), new_code_cell('BACKEND = "unset"')]
    cells[1].metadata["tags"] = ["parameters"]
    for source in code:
        cells += [new_markdown_cell("A step."), new_code_cell(source)]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": runner.KERNEL, "display_name": "RayService tutorial", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return path


def test_a_passing_run_prints_one_line_per_notebook_then_the_table(tmp_path, capfd):
    busy = (
        "import threading, time\n"
        "def spin():\n"
        "    while True:\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=spin, daemon=True).start()"
    )
    paths = [
        notebook(tmp_path / "00_first.ipynb", "print(BACKEND)"),
        notebook(tmp_path / "01_busy_at_shutdown.ipynb", busy, "import ipywidgets\nipywidgets.HTML('x')"),
    ]
    results = runner.run_all("local", out_dir=tmp_path / "out", notebooks=paths)
    print(runner.table(results))
    out, err = capfd.readouterr()

    assert [r.status for r in results] == ["ok", "ok"], results
    lines = out.splitlines()
    assert [line.split()[:3] for line in lines[:2]] == [["▶", p.name, "ok"] for p in paths], out
    assert lines[2].split() == ["notebook", "result", "seconds"], out
    assert [line.split()[:2] for line in lines[4:6]] == [[p.name, "ok"] for p in paths]
    assert lines[-1].startswith("total"), out
    for noise in NOISE:  # ipykernel's transport warning and the shutdown interrupt went to the terminal before
        assert noise not in out + err, out + err
    executed = nbformat.read(tmp_path / "out" / "00_first.ipynb", as_version=4)
    assert executed.cells[4].outputs[0]["text"] == "local\n"  # papermill's BACKEND parameter arrived


def test_a_failing_lesson_names_the_notebook_the_cell_and_the_whole_error(tmp_path, capfd):
    boom = 'raise RuntimeError("the app is not RUNNING: apply it first\\n  hello  DEPLOY_FAILED  no module x")'
    paths = [
        notebook(tmp_path / "00_fails.ipynb", "x = 1", boom, "print('never')"),
        notebook(tmp_path / "01_after.ipynb", "print('never')"),
    ]
    results = runner.run_all("local", out_dir=tmp_path / "out", notebooks=paths)
    summary = runner.table(results)
    out, err = capfd.readouterr()

    assert [r.status for r in results] == ["failed", "skipped"]
    # The learner's notebook: title, parameters, step, x = 1, step, boom -> cell 6 (papermill's own copy has
    # an injected parameters cell, so its index is one more).
    assert results[0].error.startswith('cell 6 (In [4]) `raise RuntimeError("the app is not RUNNING')
    assert results[0].error.endswith("...`: RuntimeError: the app is not RUNNING: apply it first")
    assert "FAILED: 00_fails.ipynb, cell 6 (In [4])" in summary
    assert "    hello  DEPLOY_FAILED  no module x" in summary  # the whole message, not only its first line
    assert f"executed copy: {tmp_path / 'out' / '00_fails.ipynb'}" in summary
    assert out.splitlines()[0].split()[:3] == ["▶", "00_fails.ipynb", "failed"]
    assert len(out.splitlines()) == 1  # the skipped lesson prints nothing; the table says "skipped"
    assert "01_after.ipynb  skipped" in summary
    for noise in ("without encryption", "KeyboardInterrupt"):
        assert noise not in out + err, out + err


def test_select_lessons_by_name_or_number_in_the_order_given():
    chosen = runner.select_lessons(["09", "03_routing", "06_monitoring.ipynb"])
    assert [p.name for p in chosen] == ["09_cleanup.ipynb", "03_routing.ipynb", "06_monitoring.ipynb"]
    with pytest.raises(ValueError, match="no lesson or lab called '3_routing': write one of 00_setup, 01_cluster"):
        runner.select_lessons(["3_routing"])
    assert [p.name for p in runner.select_lessons(["lab03", "lab02_third_app"])] == [
        "lab03_chaos.ipynb",
        "lab02_third_app.ipynb",
    ]


def test_a_lesson_in_parts_by_part_or_by_its_number():
    assert [p.name for p in runner.select_lessons(["04b", "04a_self_healing"])] == [
        "04b_head_failure.ipynb",
        "04a_self_healing.ipynb",
    ]
    assert [p.name for p in runner.select_lessons(["03", "04", "05"])] == [
        "03_routing.ipynb",
        "04a_self_healing.ipynb",
        "04b_head_failure.ipynb",
        "05_rolling_updates.ipynb",
    ]
    with pytest.raises(ValueError, match="no lesson or lab called '04c'"):
        runner.select_lessons(["04c"])


def test_make_run_runs_every_lesson_then_every_lab_then_cleanup_last():
    """The labs use the lessons' cluster: they run before 09_cleanup, which stops it."""
    names = [p.name for p in runner.tutorial_notebooks()]
    lessons = [p.name for p in runner.lesson_notebooks()]
    assert names[: len(lessons) - 1] == lessons[:-1] and names[-1] == lessons[-1] == "09_cleanup.ipynb"
    assert names[len(lessons) - 1 : -1] == [p.name for p in runner.lab_notebooks()]
    korean = runner.tutorial_notebooks(config.NOTEBOOKS_DIR / "ko")
    first_lab = len(lessons) - 1
    assert korean[first_lab].parent == config.PROJECT_ROOT / "labs" / "ko" and korean[-1].parent.name == "ko"


def test_make_run_with_an_unknown_lesson_says_what_to_write(capsys):
    from helpers.__main__ import main

    assert main(["run", "--only", "99_nothing"]) == 2
    assert "error: no lesson or lab called '99_nothing': write one of" in capsys.readouterr().err


def test_korean_lessons_selected_from_their_folder():
    chosen = runner.select_lessons(["03"], config.NOTEBOOKS_DIR / "ko")
    assert chosen == [config.NOTEBOOKS_DIR / "ko" / "03_routing.ipynb"]
    assert runner.lab_solution(config.PROJECT_ROOT / "labs" / "ko" / "lab02_third_app.ipynb").exists()
