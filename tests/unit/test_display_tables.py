"""The tables that replace dict prints in the lessons."""

from __future__ import annotations

from helpers import display


def test_counts_are_a_table_most_first():
    assert display.counts({"v1": 3, "v2": 5}, "version").splitlines() == [
        "version  answers",
        "-------  -------",
        "v2       5",
        "v1       3",
    ]


def test_the_overlap_window_as_a_table():
    window = {"first_new_s": 15.95, "last_old_s": 20.2, "overlap_s": 4.25, "answers_in_window": {"v2": 49, "v1": 37}}
    lines = display.overlap(window, "v1", "v2").splitlines()
    assert lines[2:] == [
        "first answer of v2            15.95 s",
        "last answer of v1             20.2 s",
        "both answered for             4.25 s",
        "answers of v1 in that window  37",
        "answers of v2 in that window  49",
    ]


def test_a_hard_switch_has_no_window():
    window = {"first_new_s": None, "last_old_s": None, "overlap_s": 0.0, "answers_in_window": {}}
    assert display.overlap(window, "v1", "v2").splitlines()[2:] == [
        "first answer of v2  -",
        "last answer of v1   -",
        "both answered for   0.0 s",
    ]
