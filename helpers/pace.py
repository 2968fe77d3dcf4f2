"""How long a lesson or lab takes a learner: reading and running at a stated pace, plus the machine's time.

    python -m helpers pace        # every notebook's counts, its computed time and the time it states

The **Time** each notebook states in its first cell, and the "plan for" column of labs/INSTRUCTOR.md's agendas
(helpers.bench_tables), come from :func:`estimate`, never from a guess:

- the markdown read at ``WORDS_PER_MINUTE`` (the answers in ``<details>`` included: they are read too). A word
  is a token with a letter or digit in it, HTML tags and link targets left out;
- ``CODE_CELL_S`` per code cell: read its few lines, run it, look at what it printed;
- ``QUESTION_S`` per question a learner is asked to answer before opening its answer ("Predict, then run",
  "Check yourself"): one per ``<summary>Answer</summary>``, one per numbered item under ``Answers``;
- in a lab, ``TRY_S`` per try: the answer file edited and the check run again, one try per hint (a learner
  stuck at each) plus the one that passes;
- the machine's time: the notebook's median in the committed bench result (bench/results.json; a lab's is
  one run of its check, with its solution).

The sum is rounded to ``ROUND_MIN`` minutes. Silent reading of non-fiction averages about 240 words a minute
(Brysbaert 2019, "How many words do we read per minute?"); technical prose with YAML, commands and tables in
it is read at about half that. tests/unit/test_pace.py fails when a notebook states another time than this
computes (a changed lesson changes its time: state the new one, in the Korean edition too).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

WORDS_PER_MINUTE = 130
CODE_CELL_S = 30
QUESTION_S = 60
TRY_S = 180
ROUND_MIN = 5

STATED = re.compile(r"\*\*Time:\*\* (\d+) minutes?")
STATED_KO = re.compile(r"\*\*소요 시간:\*\* (\d+)분")
ANSWER = re.compile(r"<summary>\s*(Answers?)\s*</summary>(.*?)</details>", re.S)
HINT = re.compile(r"<summary>\s*Hint\b")


@dataclass(frozen=True)
class Pace:
    """What a notebook asks of a learner, and the machine's seconds (None: not measured)."""

    words: int
    code_cells: int
    questions: int
    tries: int
    machine_s: float | None = None

    @property
    def reading_s(self) -> float:
        """Reading and running, the machine's time left out."""
        return (
            self.words * 60 / WORDS_PER_MINUTE
            + self.code_cells * CODE_CELL_S
            + self.questions * QUESTION_S
            + self.tries * TRY_S
        )

    @property
    def seconds(self) -> float:
        return self.reading_s + (self.machine_s or 0.0)

    @property
    def minutes(self) -> int:
        """The time to state: the whole, rounded; without a machine time, the reading part alone."""
        return rounded(self.seconds)

    @property
    def reading_minutes(self) -> int:
        return rounded(self.reading_s)


# Notebooks that do their work on kind/host only: on local they say what they would do (no machine time there).
NEEDS_KUBERNETES = {"lab05_by_hand.ipynb"}


def rounded(seconds: float) -> int:
    """To the nearest ``ROUND_MIN`` minutes (a half rounds up), never below ``ROUND_MIN``."""
    return max(ROUND_MIN, math.floor(seconds / 60 / ROUND_MIN + 0.5) * ROUND_MIN)


def words(markdown: str) -> int:
    text = re.sub(r"<[^>]+>", " ", markdown)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # [text](target): the text is read, not the target
    return sum(1 for token in text.split() if re.search(r"\w", token))


def questions(markdown: str) -> int:
    count = 0
    for match in ANSWER.finditer(markdown):
        items = len(re.findall(r"^\s*\d+\.\s", match[2], re.M))
        count += max(1, items) if match[1] == "Answers" else 1
    return count


def _notebook(notebook: Path | Any) -> Any:
    return nbformat.read(notebook, as_version=4) if isinstance(notebook, (str, Path)) else notebook


def count(notebook: Path | Any, machine_s: float | None = None) -> Pace:
    """``notebook`` (a path or a read notebook) counted; ``machine_s``: its machine time, if measured."""
    cells = _notebook(notebook).cells
    markdown = [c.source for c in cells if c.cell_type == "markdown"]
    hints = sum(len(HINT.findall(text)) for text in markdown)
    return Pace(
        words=sum(words(text) for text in markdown),
        code_cells=sum(1 for c in cells if c.cell_type == "code"),
        questions=sum(questions(text) for text in markdown),
        tries=hints + 1 if hints else 0,
        machine_s=machine_s,
    )


def estimate(path: Path, seconds: dict[str, float] | None) -> Pace:
    """``path`` counted, with its machine time from ``seconds`` (a notebook's file name -> median seconds)."""
    return count(path, (seconds or {}).get(path.name))


def stated(notebook: Path | Any, pattern: re.Pattern[str] = STATED) -> int | None:
    """The minutes the notebook's first cell states (``**Time:** N minutes``), None if it states none."""
    match = pattern.search(_notebook(notebook).cells[0].source)
    return int(match[1]) if match else None


def method() -> str:
    """The method in one sentence, for the docs."""
    return (
        f"reading the markdown at {WORDS_PER_MINUTE} words a minute, {CODE_CELL_S} s per code cell to read and run "
        f"it, {QUESTION_S} s per question to answer before opening its answer (Predict, Check yourself), in a lab "
        f"{TRY_S // 60} minutes per try (one per hint, plus the one that passes), plus the machine's median time, "
        f"rounded to {ROUND_MIN} minutes"
    )


def notebooks() -> list[Path]:
    """Every lesson and lab, in English."""
    from helpers import runner

    return runner.lesson_notebooks() + runner.lab_notebooks()


def table(seconds: dict[str, float]) -> tuple[str, list[Path]]:
    """Every notebook's counts, its computed time and the time it states (``python -m helpers pace``), and the
    notebooks whose stated time differs."""
    lines = [
        f"pace: {method()}",
        "",
        f"{'notebook':28} {'words':>6} {'code':>5} {'questions':>9} {'tries':>5} {'machine':>8} {'min':>6}  states",
    ]
    wrong = []
    for path in notebooks():
        pace = estimate(path, seconds)
        machine = "–" if pace.machine_s is None else f"{pace.machine_s:.0f} s"
        says = stated(path)
        lines.append(
            f"{path.stem:28} {pace.words:6} {pace.code_cells:5} {pace.questions:9} {pace.tries:5} {machine:>8} "
            f"{pace.seconds / 60:6.1f}  {says}{'' if says == pace.minutes else f' (should state {pace.minutes})'}"
        )
        if says != pace.minutes:
            wrong.append(path)
    return "\n".join(lines), wrong
