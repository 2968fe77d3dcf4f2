"""labs/INSTRUCTOR.md stays in step with the notebooks, the labs and the commands it names."""

import re

from helpers import config, runner

GUIDE = (config.PROJECT_ROOT / "labs" / "INSTRUCTOR.md").read_text()


def test_agenda_lists_every_lesson_and_lab_once():
    rows = re.findall(r"^\| \d+ \| `(notebooks|labs)/(\w+)` \|", GUIDE, re.M)
    named = [f"{folder}/{name}.ipynb" for folder, name in rows]
    expected = [f"notebooks/{p.name}" for p in runner.lesson_notebooks()] + [
        f"labs/{p.name}" for p in runner.lab_notebooks()
    ]
    assert sorted(named) == sorted(expected)


def test_agenda_totals_add_up():
    rows = re.findall(r"^\|\s*\d*\s*\| [^|]+ \|\s*(\d*)\s*\| (\d+) \|", GUIDE, re.M)
    machine = sum(int(m) for m, _ in rows if m)
    plan = sum(int(p) for _, p in rows)
    assert f"**{machine} s" in GUIDE and f"**{plan} min**" in GUIDE


def test_the_make_targets_it_names_exist():
    makefile = (config.PROJECT_ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make (\w[\w-]*)", GUIDE)):
        assert re.search(rf"^{target}:", makefile, re.M), target
