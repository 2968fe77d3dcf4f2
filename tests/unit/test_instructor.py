"""labs/INSTRUCTOR.md stays in step with the notebooks, the labs and the commands it names.

Its figures (the agendas' machine columns from bench/results.json, their plan columns from helpers.pace) are
generated: test_bench_tables.py."""

import re

import pytest

from helpers import bench_tables, config, runner

GUIDE = (config.PROJECT_ROOT / "labs" / "INSTRUCTOR.md").read_text()
AGENDAS = {m["name"]: m["body"] for m in bench_tables.BLOCK.finditer(GUIDE)}
AGENDA = AGENDAS["agenda"]  # the local backend's; "agenda-host" is the kind/host one


@pytest.mark.parametrize("name", ["agenda", "agenda-host"])
def test_agenda_lists_every_lesson_and_lab_once(name):
    rows = re.findall(r"^\| \d+ \| `(notebooks|labs)/(\w+)` \|", AGENDAS[name], re.M)
    named = [f"{folder}/{name}.ipynb" for folder, name in rows]
    expected = [f"notebooks/{p.name}" for p in runner.lesson_notebooks()] + [
        f"labs/{p.name}" for p in runner.lab_notebooks()
    ]
    assert sorted(named) == sorted(expected)


def test_agenda_totals_add_up():
    """The plan column (helpers.pace) and the machine column (the committed bench result) are generated, and
    tests/unit/test_bench_tables.py checks they are exactly what that result gives; the break is hand-written. A
    notebook the committed result has not timed yet is planned for "N + machine" (its reading and running, no
    made-up machine time), and the total says "+ machine" too."""
    rows = re.findall(r"^\|\s*\d*\s*\| [^|]+ \|[^|]*\| (\d+)( \+ machine)? \|", AGENDA, re.M)
    plan = sum(int(p) for p, _ in rows)
    assert len(rows) == len(runner.lesson_notebooks()) + len(runner.lab_notebooks()) + 1  # + the break
    more = " + machine" if any(untimed for _, untimed in rows) else ""
    assert f"**{plan} min{more}**" in AGENDA


def test_the_plan_is_the_time_each_notebook_states():
    """The guide says its "plan for" column is the **Time** each notebook states: keep the two the same (for a
    notebook not timed yet, "N + machine": N is what it states, its reading and running)."""
    import nbformat

    rows = dict(re.findall(r"^\| \d+ \| `((?:notebooks|labs)/\w+)` \|[^|]*\| (\d+)(?: \+ machine)? \|", AGENDA, re.M))
    for path in [*runner.lesson_notebooks(), *runner.lab_notebooks()]:
        intro = nbformat.read(path, as_version=4).cells[0].source
        stated = re.search(r"\*\*Time:\*\* (\d+) minutes", intro)
        assert stated, f"{path.name} states no **Time:** N minutes"
        assert rows[f"{path.parent.name}/{path.stem}"] == stated.group(1), path.name


def test_the_make_targets_it_names_exist():
    makefile = (config.PROJECT_ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make (\w[\w-]*)", GUIDE)):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_no_hand_copied_figures_outside_the_generated_agenda():
    """Seconds, minutes and GiB quoted by hand go stale: outside the generated block only the plan (min)."""
    outside = bench_tables.BLOCK.sub("", GUIDE)
    # Only requirements computed from the manifests, not measurements: Docker memory for one cluster and for
    # an upgrade's two (helpers.preflight), and the workshop quota per learner.
    from helpers import preflight
    from helpers.manifests import load_manifest

    hello = load_manifest("manifests/ray-service.yaml")
    quota = preflight.namespace_quota()["limits.memory"].removesuffix("Gi")
    allowed = {
        f"{preflight.memory_needed(hello, upgrade=False):g} GiB",
        f"{preflight.memory_needed(hello, upgrade=True):g} GiB",
        f"{quota} GiB",
    }
    assert set(re.findall(r"~?\d+(?:\.\d+)? ?(?:s|GiB)\b", outside)) <= allowed
