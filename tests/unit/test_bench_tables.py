"""The docs' figures come from one committed bench result, generated, never hand-copied.

README.md and labs/INSTRUCTOR.md must be exactly what ``python -m helpers bench --tables`` generates from
the committed bench/results.json (or say that there is none yet). The fixture
tests/data/bench/results-fixture.json has the shape bench.main() writes (checked below) with made-up numbers.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import bench, bench_tables, config, pace, runner

FIXTURE = config.PROJECT_ROOT / "tests" / "data" / "bench" / "results-fixture.json"
README, INSTRUCTOR = bench_tables.DOCUMENTS


@pytest.fixture
def result() -> dict:
    """The whole result: one report per backend."""
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def report(result) -> dict:
    """The local backend's report."""
    return result["local"]


# -- the committed docs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", bench_tables.DOCUMENTS, ids=lambda p: p.name)
def test_committed_docs_are_what_the_committed_result_generates(doc):
    text = doc.read_text()
    assert bench_tables.render(text, bench_tables.load()) == text, (
        f"{doc.name}'s figures differ from bench/results.json: run `python -m helpers bench --tables` "
        "(never edit the generated blocks by hand)"
    )


def test_the_docs_have_their_generated_blocks():
    assert [m["name"] for m in bench_tables.BLOCK.finditer(README.read_text())] == ["figures"]
    assert [m["name"] for m in bench_tables.BLOCK.finditer(INSTRUCTOR.read_text())] == ["agenda", "agenda-host"]


def test_without_a_committed_result_the_docs_say_so_and_show_no_number():
    if bench_tables.RESULT.exists():
        pytest.skip("bench/results.json is committed")
    (figures,) = [m["body"] for m in bench_tables.BLOCK.finditer(README.read_text())]
    assert figures.strip() == "No committed bench result yet: run `make bench`."
    agenda = [m["body"] for m in bench_tables.BLOCK.finditer(INSTRUCTOR.read_text())][0]
    assert "Machine seconds: no committed bench result yet: run `make bench`." in agenda
    machine = [row.split("|")[3].strip() for row in agenda.splitlines() if row.startswith("| ") and "`" in row]
    assert machine and set(machine) == {"–"}, machine


# -- what bench.main() writes -------------------------------------------------------------------------------


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


@pytest.mark.parametrize("backend", ["local", "host"])
def test_the_fixture_has_the_shape_bench_main_writes(tmp_path, monkeypatch, result, backend):
    report = result[backend]
    runs = iter(copy.deepcopy(report["runs"]))
    monkeypatch.setattr(bench, "run_once", lambda name, rate: next(runs))
    monkeypatch.setattr(bench, "machine", lambda name: dict(report["machine"]))
    written = bench.main(runs=2, out=tmp_path / "results.json", backend=backend)

    assert json.loads((tmp_path / "results.json").read_text()) == written
    assert list(written) == [backend]
    written = written[backend]
    assert list(written) == list(report)  # date, rate, machine, runs, median, max
    assert shape({k: v for k, v in written.items() if k != "date"}) == shape(
        {k: v for k, v in report.items() if k != "date"}
    )
    assert written["median"] == report["median"] and written["max"] == report["max"]


def test_a_backend_measured_keeps_the_others_result(tmp_path, monkeypatch, result):
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"local": result["local"]}))
    runs = iter(copy.deepcopy(result["host"]["runs"]))
    monkeypatch.setattr(bench, "run_once", lambda name, rate: next(runs))
    monkeypatch.setattr(bench, "machine", lambda name: dict(result["host"]["machine"]))
    written = bench.main(runs=2, out=out, backend="host")
    assert written["local"] == result["local"] and written["host"]["median"] == result["host"]["median"]


def test_bench_refuses_a_backend_it_does_not_measure(tmp_path):
    with pytest.raises(ValueError, match="not 'kind': write BACKEND=local or BACKEND=host"):
        bench.main(runs=1, out=tmp_path / "results.json", backend="kind")
    assert not (tmp_path / "results.json").exists()


def test_bench_main_rewrites_the_committed_result_and_the_docs(tmp_path, monkeypatch, report):
    """`make bench` = measure, write bench/results.json, regenerate the tables (here in copies)."""
    docs = []
    for doc in bench_tables.DOCUMENTS:
        docs.append(tmp_path / doc.name)
        shutil.copy(doc, docs[-1])
    monkeypatch.setattr(bench_tables, "RESULT", tmp_path / "bench" / "results.json")
    monkeypatch.setattr(bench_tables, "DOCUMENTS", tuple(docs))
    runs = iter(copy.deepcopy(report["runs"]))
    monkeypatch.setattr(bench, "run_once", lambda name, rate: next(runs))
    monkeypatch.setattr(bench, "machine", lambda name: dict(report["machine"]))
    written = bench.main(runs=2)

    assert json.loads((tmp_path / "bench" / "results.json").read_text()) == written
    readme = docs[0].read_text()
    assert "No committed bench result yet" not in readme
    assert bench_tables.render(readme, written) == readme


# -- aggregation --------------------------------------------------------------------------------------------


def test_the_booleans_come_from_every_run_not_the_first():
    first_ok = [{"notebooks_ok": True, "labs_ok": True}, {"notebooks_ok": False, "labs_ok": True}]
    assert bench.medians(first_ok) == {"notebooks_ok": False, "labs_ok": True}
    assert bench.medians(first_ok[::-1]) == {"notebooks_ok": False, "labs_ok": True}
    assert bench_tables.maxima(first_ok)["notebooks_ok"] is False


def test_medians_and_maxima_keep_the_nesting():
    runs = [
        {"cluster_up_s": 20.0, "scenarios": {"a": {"failed": 0, "recovery_s": 9.0}}, "notebooks_s": {"x": 1.0}},
        {"cluster_up_s": 30.0, "scenarios": {"a": {"failed": 3, "recovery_s": None}}, "notebooks_s": {"x": 2.0}},
        {"cluster_up_s": 25.0, "scenarios": {"a": {"failed": 1, "recovery_s": 7.0}}, "notebooks_s": {"x": 4.0}},
    ]
    assert bench_tables.medians(runs) == {
        "cluster_up_s": 25.0,
        "scenarios": {"a": {"failed": 1, "recovery_s": None}},  # not healthy in one run: no figure
        "notebooks_s": {"x": 2.0},
    }
    assert bench_tables.maxima(runs)["cluster_up_s"] == 30.0
    assert bench_tables.maxima(runs)["scenarios"]["a"]["failed"] == 3


# -- the generated tables -----------------------------------------------------------------------------------


def test_every_scenario_in_the_result_gets_a_row_with_a_label(report):
    table = bench_tables.scenarios_table(report)
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| scenario")]
    missing = [k for k in bench_tables.EXPECTED_SCENARIOS if k not in report["median"]["scenarios"]]
    assert len(rows) == len(report["median"]["scenarios"]) + len(missing)
    assert "| the head node's HTTP proxy killed | no | 100 | 1 (2) | 7.0 s | 4 / 80 ms |" in rows
    assert "| the head node's HTTP proxy killed | yes | 100 | 0 | – | 4 / 70 ms |" in rows
    assert "| a replica killed (SIGKILL) | no | 100 | 0.5 (1) | 3.5 s (4.0) | 4 / 40 ms |" in rows
    assert "| `made_up_fixture_scenario` | yes |" in table  # an unknown key is shown as it is
    for key in report["median"]["scenarios"]:
        assert key in bench_tables.SCENARIOS or f"`{key}`" in table


def test_a_result_without_the_head_loss_rows_says_they_are_not_measured_yet(report):
    assert "head_loss_ft_retries" not in report["median"]["scenarios"]
    table = bench_tables.scenarios_table(report)
    assert "| the head lost, GCS fault tolerance (Redis) | yes | not measured yet | | | |" in table
    assert "| the head lost, no GCS fault tolerance | no | not measured yet | | | |" in table
    timings = bench_tables.timings_table(report)
    assert "| the head lost, GCS fault tolerance: the new head answers after | not measured yet |" in timings


def test_measured_head_loss_rows_show_their_figures(report):
    for run in report["runs"]:
        run["scenarios"]["head_loss_ft_retries"] = {
            "retries": True,
            "sent": 900,
            "failed": 0,
            "recovery_s": 41.0,
            "p50_ms": 5,
            "p99_ms": 4000,
        }
        run["head_loss_ft_head_back_s"] = 30.0
    table = bench_tables.scenarios_table(report)
    assert "| the head lost, GCS fault tolerance (Redis) | yes | 900 | 0 | 41.0 s | 5 / 4000 ms |" in table
    assert table.count("GCS fault tolerance (Redis) | yes") == 1
    timings = bench_tables.timings_table(report)
    assert "| the head lost, GCS fault tolerance: the new head answers after | 30.0 s |" in timings
    assert "| the head lost, GCS fault tolerance: every application RUNNING after | not measured yet |" in timings


def test_the_figures_block_says_where_the_numbers_come_from(report):
    text = bench_tables.render("<!-- bench:figures -->\nstale figure\n<!-- /bench -->\n", {"local": report})
    assert "Medians of 2 runs of `make bench` (`bench/results.json` of 2000-01-01)" in text
    assert "Every lesson ran ok in every run: no; every lab with its solution: yes." in text
    assert "| cluster up (head + 1 worker node) | 10.5 s (11.0) |" in text
    assert "| peak memory of the cluster's processes | 2.2 GiB (2.5) |" in text
    assert "| lesson `04a_self_healing` | 30.5 s (31.0) |" in text
    assert "| lesson `04b_head_failure` | 20.0 s |" in text
    assert "| lab `lab03_chaos`, run with its solution | 35.0 s (40.0) |" in text
    assert "stale figure" not in text
    assert "host backend" not in text  # no host result: no host figures


def test_the_host_figures_stand_beside_the_local_ones_with_their_ratio(result):
    text = bench_tables.render("<!-- bench:figures -->\n<!-- /bench -->\n", result)
    assert "`make bench BACKEND=host`" in text and "Kubernetes v1.34.4, KubeRay v1.6.1; host backend" in text
    rows = text.splitlines()
    # local 3.5 s (runs 3.0, 4.0), host 9.0 s (runs 8.0, 10.0): 2.6 times; the worst host run in brackets
    assert "| a replica killed (SIGKILL) | no | 0.5 / 100 | 2 (3) / 100 | 3.5 s | 9.0 s (10.0) | 2.6× |" in rows
    assert "| cluster up (head + 1 worker node) | 10.5 s | 60.0 s (70.0) | 5.7× |" in rows
    assert "| the head node's HTTP proxy killed | yes | 0 / 100 | not measured yet | – | – | – |" in rows


def agendas(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in bench_tables.BLOCK.finditer(text)}


def plan(notebook: str, seconds: dict[str, float]) -> int:
    """What helpers.pace computes for ``notebooks/01_cluster`` with these machine times."""
    return pace.estimate(config.PROJECT_ROOT / f"{notebook}.ipynb", seconds).minutes


def test_the_agenda_keeps_the_hand_written_columns_and_generates_machine_and_plan(report):
    generated = bench_tables.render(INSTRUCTOR.read_text(), {"local": report})
    agenda = agendas(generated)["agenda"]
    seconds = bench_tables.machine_seconds(report)
    assert seconds["01_cluster.ipynb"] == 20.5 and seconds["lab03_chaos.ipynb"] == 35.0
    assert (
        f"| 2 | `notebooks/01_cluster` | 20 (21) | {plan('notebooks/01_cluster', seconds)} | the Ray cluster starts"
        in (agenda)
    )
    assert f"| 9 | `labs/lab03_chaos` | 35 (40) | {plan('labs/lab03_chaos', seconds)} |" in agenda
    assert "*break* |  | 10 |" in agenda  # a row without a notebook keeps its hand-written plan
    assert f"Plan for (`helpers/pace.py`): {pace.method()}." in agenda
    lessons = sum(report["median"]["notebooks_s"].values()) + sum(report["median"]["labs_s"].values())
    plans = [int(p) for p in re.findall(r"^\|[^|]*\|[^|]*\|[^|]*\| (\d+) \|", agenda, re.M)]
    assert len(plans) == len(runner.lesson_notebooks()) + len(runner.lab_notebooks()) + 1  # + the break
    assert f"| | **total** | **{round(lessons)} s ({lessons / 60:.1f} min)** | **{sum(plans)} min** |" in agenda
    assert bench_tables.render(generated, {"local": report}) == generated  # regenerating changes nothing
    assert bench_tables.render(generated, None) == INSTRUCTOR.read_text() or bench_tables.RESULT.exists()


def test_a_notebook_missing_from_the_result_says_not_measured_yet_and_plans_without_its_machine_time(report):
    """A lesson added, split or renamed since the committed run has no time in it: never a made-up one."""
    for run in report["runs"]:
        del run["labs_s"]["lab02_third_app.ipynb"]
    rendered = bench_tables.render(INSTRUCTOR.read_text(), {"local": report})
    agenda = agendas(rendered)["agenda"]
    reading = pace.count(config.PROJECT_ROOT / "labs" / "lab02_third_app.ipynb").reading_minutes
    assert f"| 6 | `labs/lab02_third_app` | not measured yet | {reading} + machine |" in agenda
    assert "no machine time for (not measured yet: added, split or renamed since the run)" in agenda
    assert re.search(r"^\| \| \*\*total\*\* \| – \| \*\*\d+ min \+ machine\*\* \|", agenda, re.M)


def test_the_host_agenda_takes_the_host_times_and_says_where_there_are_none(result):
    agenda = agendas(bench_tables.render(INSTRUCTOR.read_text(), result))["agenda-host"]
    assert "`make bench BACKEND=host` (`bench/results.json`" in agenda and "host backend" in agenda
    assert "| 2 | `notebooks/01_cluster` | not measured yet |" in agenda  # the fixture's host run times no lesson
    reading = pace.count(config.PROJECT_ROOT / "notebooks" / "04a_self_healing.ipynb").reading_minutes
    assert f"| 7 | `notebooks/04a_self_healing` | not measured yet | {reading} + machine |" in agenda
    assert "not the lessons and labs" in agenda
    # local 10.5 s and host 60.0 s to bring the cluster up: the ratios of the timings measured on both
    assert "cluster up 60.0 s against 10.5 s" in agenda
    assert "| | **total** | – |" in agenda

    for run in result["host"]["runs"]:
        run["notebooks_s"] = {"04a_self_healing.ipynb": 600.0}
    agenda = agendas(bench_tables.render(INSTRUCTOR.read_text(), result))["agenda-host"]
    measured = plan("notebooks/04a_self_healing", {"04a_self_healing.ipynb": 600.0})
    assert f"| 7 | `notebooks/04a_self_healing` | 600 | {measured} |" in agenda
    assert "| 2 | `notebooks/01_cluster` | not measured yet |" in agenda


def test_without_a_host_result_the_host_agenda_says_so(report):
    agenda = agendas(bench_tables.render(INSTRUCTOR.read_text(), {"local": report}))["agenda-host"]
    assert agenda.startswith("Machine seconds on the host: no host result yet.")
    assert "times as long on the host" not in agenda


def test_cli_regenerates_from_the_committed_result(tmp_path, monkeypatch, report, capsys):
    from helpers.__main__ import main

    docs = []
    for doc in bench_tables.DOCUMENTS:
        docs.append(tmp_path / doc.name)
        docs[-1].write_text(bench_tables.render(doc.read_text(), None))
    result = tmp_path / "results.json"
    result.write_text(json.dumps({"local": report}))
    monkeypatch.setattr(bench_tables, "RESULT", result)
    monkeypatch.setattr(bench_tables, "DOCUMENTS", tuple(docs))
    monkeypatch.setattr(bench_tables.config, "PROJECT_ROOT", tmp_path)
    assert main(["bench", "--tables"]) == 0
    assert "regenerated the figures in README.md" in capsys.readouterr().out
    assert "| cluster up (head + 1 worker node) | 10.5 s (11.0) |" in docs[0].read_text()
    assert main(["bench", "--tables"]) == 0
    assert "already match" in capsys.readouterr().out


def test_an_unknown_block_name_is_an_error():
    with pytest.raises(ValueError, match="unknown bench block 'figurez'"):
        bench_tables.render("<!-- bench:figurez -->\n<!-- /bench -->\n", {"local": {"runs": []}})


def test_labels_cover_the_keys_bench_writes():
    source = Path(bench.__file__).read_text()
    written = re.findall(r'\("(\w+)", scenarios\.', source)
    assert len(written) >= 7, written
    assert [key for key in written if key not in bench_tables.SCENARIOS] == []
    for key in bench_tables.FIGURES:
        assert f'"{key}"' in source


def test_a_scenario_that_failed_says_why_instead_of_hiding_behind_a_dash(result):
    for run in result["host"]["runs"]:
        run["scenarios"]["proxy_kill_no_retries"]["error"] = "kubectl exec ... exited 1"
        run["scenarios"]["proxy_kill_no_retries"]["recovery_s"] = None
    result["host"]["median"] = bench_tables.medians(result["host"]["runs"])
    text = bench_tables.render("<!-- bench:figures -->\n<!-- /bench -->\n", result)
    name = "the head node's HTTP proxy killed (proxy_kill_no_retries)"
    assert f"On the host backend, {name} ended with an error: kubectl exec" in text


def test_a_scenario_that_fails_on_purpose_is_no_error_unless_it_fails_otherwise(result):
    for backend in ("local", "host"):
        for run in result[backend]["runs"]:
            failed = {"recovery_s": None, "error": "Application 'hello' is DEPLOY_FAILED: AttributeError: ..."}
            run["scenarios"]["bad_update"] = {**run["scenarios"].get("bad_update", {}), **failed}
        result[backend]["median"] = bench_tables.medians(result[backend]["runs"])
    text = bench_tables.render("<!-- bench:figures -->\n<!-- /bench -->\n", result)
    assert "(bad_update) ended with an error" not in text
    for run in result["host"]["runs"]:
        run["scenarios"]["bad_update"]["error"] = "Waited 120 s for the RayService to be Ready"  # not the failure meant
    result["host"]["median"] = bench_tables.medians(result["host"]["runs"])
    text = bench_tables.render("<!-- bench:figures -->\n<!-- /bench -->\n", result)
    assert "On the host backend, bad `import_path`" in text and "(bad_update) ended with an error: Waited 120 s" in text


def test_lesson_07s_ramp_figures_print_counts_as_whole_numbers():
    runs = [
        {"autoscaling_peak_replicas": 3, "autoscaling_failed": 0, "autoscaling_second_replica_lag_s": 36.2},
        {"autoscaling_peak_replicas": 4, "autoscaling_failed": 1, "autoscaling_second_replica_lag_s": 40.0},
    ]
    table = bench_tables.timings_table({"runs": runs})
    assert "| lesson 07's ramp: most replicas RUNNING | 3.5 replicas (4) |" in table  # a median of two counts
    assert "| lesson 07's ramp: failed requests | 0.5 requests (1) |" in table
    assert "| lesson 07's ramp: the 2nd replica RUNNING after the load needed it | 38.1 s (40.0) |" in table
    one = bench_tables.timings_table({"runs": runs[:1]})
    assert "| lesson 07's ramp: most replicas RUNNING | 3 replicas |" in one
    both = bench_tables.comparison_tables({"runs": runs[:1]}, {"runs": runs[1:]})
    assert "| lesson 07's ramp: most replicas RUNNING | 3 replicas | 4 replicas | 1.3× |" in both
