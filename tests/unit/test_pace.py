"""Each notebook's **Time** is computed (helpers.pace: reading and running at a stated pace, plus the machine's
time from the committed bench result), never guessed: checked here on a tiny notebook, and on every lesson and
lab, in English and in Korean."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import bench_tables, config, pace, translate

NOTEBOOKS = pace.notebooks()


def tiny(*cells):
    return new_notebook(cells=list(cells))


def test_a_tiny_lesson_counted_and_timed():
    notebook = tiny(
        new_markdown_cell("# 99 · Tiny\n\n**Time:** 5 minutes. See [the guide](../README.md#a-long-anchor)."),
        new_code_cell("x = 1"),
        new_markdown_cell(
            "**Predict, then run:** what prints?\n\n<details><summary>Answer</summary>\n\nOne.\n</details>"
        ),
        new_code_cell("print(x)"),
        new_markdown_cell(
            "## Check yourself\n1. Why?\n2. Why not?\n\n<details><summary>Answers</summary>\n\n"
            "1. Because.\n2. Because not.\n</details>\n\n| a | b |\n|---|---|\n| `x` | 1 |"
        ),
    )
    counted = pace.count(notebook)
    # words: "99", "Tiny", "**Time:**", "5", "minutes.", "See", "[the", "guide]" = 8 (the link target is not
    # read, "#" alone is no word); "**Predict,", "then", "run:**", "what", "prints?", "Answer", "One." = 7 (the
    # tags are not words, the summary's text is); "Check", "yourself", "1.", "Why?", "2.", "Why", "not?",
    # "Answers", "1.", "Because.", "2.", "Because", "not.", "a", "b", "`x`", "1" = 17 (a table's pipes and rules
    # are not words)
    assert counted == pace.Pace(words=32, code_cells=2, questions=3, tries=0)
    reading = 32 * 60 / pace.WORDS_PER_MINUTE + 2 * pace.CODE_CELL_S + 3 * pace.QUESTION_S
    assert counted.reading_s == pytest.approx(reading)
    assert pace.count(notebook, machine_s=600).seconds == pytest.approx(reading + 600)
    assert pace.count(notebook, machine_s=600).minutes == pace.rounded(reading + 600) == 15  # 14.2 min
    assert pace.stated(notebook) == 5


def test_a_lab_takes_a_try_per_hint_and_one_more():
    lab = tiny(
        new_markdown_cell("Fix it."),
        new_markdown_cell(
            "<details><summary>Hint 1</summary>Look.</details>\n<details><summary>Hint 2</summary>Harder.</details>"
        ),
        new_code_cell("check()"),
    )
    counted = pace.count(lab, machine_s=30)
    # "Fix", "it.", "Hint", "1", "Look.", "Hint", "2", "Harder.": 8 words; 2 hints, so 3 tries
    assert (counted.words, counted.code_cells, counted.questions, counted.tries) == (8, 1, 0, 3)
    assert counted.seconds == pytest.approx(8 * 60 / pace.WORDS_PER_MINUTE + pace.CODE_CELL_S + 3 * pace.TRY_S + 30)


def test_rounding():
    assert [pace.rounded(m * 60) for m in (0, 4, 7.4, 7.5, 12.49, 12.5, 48.3)] == [5, 5, 5, 10, 10, 15, 50]


def test_the_machine_time_comes_from_the_result_by_file_name():
    path = config.NOTEBOOKS_DIR / "09_cleanup.ipynb"
    without = pace.estimate(path, {})
    assert without.machine_s is None and without.minutes == without.reading_minutes
    assert pace.estimate(path, {path.name: 120.0}).seconds == pytest.approx(without.reading_s + 120)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_states_the_time_the_pace_computes(path):
    computed = pace.estimate(path, bench_tables.machine_seconds(bench_tables.load()["local"]))
    assert pace.stated(path) == computed.minutes, (
        f"{path.name} states **Time:** {pace.stated(path)} minutes; helpers.pace computes {computed.minutes} "
        f"({computed.seconds / 60:.1f} min): state that (cell 0, and its Korean in "
        f"{translate.shown(translate.translation_path(path))}), then `python -m helpers bench --tables`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_korean_edition_states_the_same_time(path):
    korean = nbformat.read(translate.korean_path(path), as_version=4)
    assert pace.stated(korean, pace.STATED_KO) == pace.stated(path)


def test_contributing_states_the_method():
    text = " ".join((config.PROJECT_ROOT / "CONTRIBUTING.md").read_text().split())
    assert pace.method() in text, f"CONTRIBUTING.md should say: {pace.method()}"
