"""The figures tables of README.md and labs/INSTRUCTOR.md, generated from the committed bench result.

    python -m helpers bench --tables     # rewrite the tables from bench/results.json
    make bench                           # measure, write bench/results.json, then rewrite the tables

A generated block sits between ``<!-- bench:NAME -->`` and ``<!-- /bench -->`` in the markdown; everything
outside the markers is written by hand. Every figure is the median of the runs in the result (the slowest
or worst run is shown next to it); every "ok" is true only if it was true in every run. The result holds one
report per backend (``local``; ``host`` once `make bench BACKEND=host` ran): the local figures first, then the
host's beside the local ones with their ratio. INSTRUCTOR.md's two agendas (``agenda``: local; ``agenda-host``:
kind/host) keep their hand-written rows and get each notebook's machine time on that backend (or "not measured
yet") and its plan from helpers.pace.
``tests/unit/test_bench_tables.py`` fails when a committed table differs from what this module generates.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import config, pace

RESULT = config.PROJECT_ROOT / "bench" / "results.json"
DOCUMENTS = (config.PROJECT_ROOT / "README.md", config.PROJECT_ROOT / "labs" / "INSTRUCTOR.md")
NOTEBOOK_ROOT = config.PROJECT_ROOT  # where an agenda's `notebooks/...` and `labs/...` are read (their pace)
NO_RESULT = "no committed bench result yet: run `make bench`"

BLOCK = re.compile(r"(<!-- bench:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /bench -->)", re.S)

# Human labels for the keys bench.run_scenarios writes; a key not listed here is shown as it is.
SCENARIOS = {
    "replica_kill": "a replica killed (SIGKILL)",
    "replica_kill_no_retries": "a replica killed (SIGKILL)",
    "replica_kill_retries": "a replica killed (SIGKILL)",
    "worker_loss_no_retries": "a worker node lost",
    "worker_loss_retries": "a worker node lost",
    "proxy_kill_retries": "the head node's HTTP proxy killed",
    "proxy_kill_no_retries": "the head node's HTTP proxy killed",
    "user_config_update": "`user_config` update (same replica processes)",
    "env_update": "`APP_VERSION` v1 -> v2 (replicas replaced)",
    "bad_update": "bad `import_path` (`DEPLOY_FAILED`, old version keeps serving)",
    "head_loss_no_ft_no_retries": "the head lost, no GCS fault tolerance",
    "head_loss_no_ft_retries": "the head lost, no GCS fault tolerance",
    "head_loss_ft_no_retries": "the head lost, GCS fault tolerance (Redis)",
    "head_loss_ft_retries": "the head lost, GCS fault tolerance (Redis)",
}
# Rows and figures every table shows, measured or not: a result written before they existed shows them as
# "not measured yet" (the next `make bench` fills them in).
EXPECTED_SCENARIOS = (
    "head_loss_no_ft_no_retries",
    "head_loss_no_ft_retries",
    "head_loss_ft_no_retries",
    "head_loss_ft_retries",
)
NOT_MEASURED = "not measured yet"
# Scenarios whose point is to fail, and how: their error is the outcome the row shows ("–" for healthy again),
# not a failure of the measurement. Any other error (or a different one) is reported under the table.
FAILS_ON_PURPOSE = {"bad_update": "DEPLOY_FAILED"}


def _unexpected(key: str, error: str | None) -> bool:
    """An error to report: any, except the failure a FAILS_ON_PURPOSE scenario is meant to end in."""
    if not error:
        return False
    meant = FAILS_ON_PURPOSE.get(key)
    return meant is None or meant not in error


FIGURES = {
    "cluster_up_s": ("cluster up (head + 1 worker node)", "s"),
    "apply_to_ready_s": ("apply to Ready (`hello`, 2 replicas)", "s"),
    "env_update_overlap_s": ("`APP_VERSION` v1 -> v2: v1 and v2 both answering for", "s"),
    "peak_memory_mib": ("peak memory of the cluster's processes", "MiB"),
    "head_loss_no_ft_head_back_s": ("the head lost, no GCS fault tolerance: the new head answers after", "s"),
    "head_loss_no_ft_apps_running_s": ("the head lost, no GCS fault tolerance: every application RUNNING after", "s"),
    "head_loss_ft_head_back_s": ("the head lost, GCS fault tolerance: the new head answers after", "s"),
    "head_loss_ft_apps_running_s": ("the head lost, GCS fault tolerance: every application RUNNING after", "s"),
    "autoscaling_predicted_replicas": ("lesson 07's ramp (1 -> 10 requests/s): replicas the plateau needs", "replicas"),
    "autoscaling_peak_replicas": ("lesson 07's ramp: most replicas RUNNING", "replicas"),
    "autoscaling_second_replica_lag_s": ("lesson 07's ramp: the 2nd replica RUNNING after the load needed it", "s"),
    "autoscaling_back_to_min_s": ("lesson 07's ramp: back to 1 replica after the load", "s"),
    "autoscaling_p50_ms": ("lesson 07's ramp: p50 latency (each request works 500 ms)", "ms"),
    "autoscaling_p99_ms": ("lesson 07's ramp: p99 latency", "ms"),
    "autoscaling_sent": ("lesson 07's ramp: requests sent", "requests"),
    "autoscaling_failed": ("lesson 07's ramp: failed requests", "requests"),
}
COUNTS = ("replicas", "requests")  # units of whole numbers
EXPECTED_FIGURES = (
    "head_loss_no_ft_head_back_s",
    "head_loss_no_ft_apps_running_s",
    "head_loss_ft_head_back_s",
    "head_loss_ft_apps_running_s",
)


# -- aggregating the runs -------------------------------------------------------------------------------


def aggregate(runs: list[dict[str, Any]], how: Callable[[list[float]], float]) -> dict[str, Any]:
    """One dict of the runs' shape: ``how`` of every number across runs (same nesting); a boolean is true
    only if it is true in every run; a figure missing (None) from some run is None; any other value is the
    first run's."""
    keys = list(dict.fromkeys(k for run in runs for k in run))
    out: dict[str, Any] = {}
    for key in keys:
        values = [run[key] for run in runs if key in run]
        if all(isinstance(v, dict) for v in values):
            out[key] = aggregate(values, how)
        elif all(isinstance(v, bool) for v in values):
            out[key] = all(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = round(how(values), 2)
        elif any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = None  # a number in some runs only (e.g. not healthy again within the timeout): no figure
        else:
            out[key] = values[0]
    return out


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return aggregate(runs, statistics.median)


def maxima(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return aggregate(runs, max)


# -- formatting --------------------------------------------------------------------------------------------


def _num(value: Any, digits: int | None = 1) -> str:
    """``digits`` decimals; None: a count, whole numbers without decimals (a median of counts can be x.5)."""
    if value is None:
        return "–"
    if digits is None:
        return f"{int(value)}" if float(value).is_integer() else f"{value:.1f}"
    return f"{value:.{digits}f}"


def _pair(median: Any, worst: Any, unit: str = "", digits: int | None = 1) -> str:
    """'16.8 s (17.2)': the median, then the slowest/worst run when it differs."""
    text = _num(median, digits) + (f" {unit}" if unit and median is not None else "")
    if worst is not None and median is not None and _num(worst, digits) != _num(median, digits):
        text += f" ({_num(worst, digits)})"
    return text


def _yes(value: Any) -> str:
    return "yes" if value is True else ("no" if value is False else "–")


def _runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return list(report.get("runs") or [])


def source_line(report: dict[str, Any], backend: str = "local") -> str:
    runs = _runs(report)
    m = report.get("machine", {})
    med = medians(runs)
    machine = ", ".join(
        x
        for x in (
            f"{m['cpus']} cores" if m.get("cpus") else "",
            f"{m['memory_gib']} GiB" if m.get("memory_gib") else "",
            m.get("platform", ""),
            f"Python {m['python']}" if m.get("python") else "",
            f"Ray {m['ray']}" if m.get("ray") else "",
            f"Kubernetes {m['kubernetes']}" if m.get("kubernetes") else "",
            f"KubeRay {m['kuberay']}" if m.get("kuberay") else "",
        )
        if x
    )
    date = f" of {report['date']}" if report.get("date") else ""
    rate = report.get("rate", 20)
    command = "`make bench`" if backend == "local" else f"`make bench BACKEND={backend}`"
    text = (
        f"Medians of {len(runs)} run{'s' if len(runs) != 1 else ''} of {command} (`bench/results.json`{date}), "
        f"in brackets the slowest or worst run when it differs; {machine}; {backend} backend, "
        f"{_num(rate)} requests/s during every scenario."
    )
    if backend != "local":
        return text
    return (
        f"{text} Every lesson ran ok in every run: {_yes(med.get('notebooks_ok'))}; "
        f"every lab with its solution: {_yes(med.get('labs_ok'))}."
    )


def scenarios_table(report: dict[str, Any]) -> str:
    runs = _runs(report)
    med, worst = medians(runs), maxima(runs)
    lines = [
        "| scenario | client retries | requests sent | failed requests | healthy again / switched after "
        "| p50 / p99 latency |",
        "|---|---|---|---|---|---|",
    ]
    measured = med.get("scenarios") or {}
    for key in [*measured, *(k for k in EXPECTED_SCENARIOS if k not in measured)]:
        m = measured.get(key)
        retries = (m or {}).get("retries")
        if retries is None:
            retries = True if key.endswith("_retries") and not key.endswith("no_retries") else None
            retries = False if key.endswith("no_retries") else retries
        if m is None:
            lines.append(f"| {SCENARIOS.get(key, f'`{key}`')} | {_yes(retries)} | {NOT_MEASURED} | | | |")
            continue
        w = worst.get("scenarios", {}).get(key, {})
        lines.append(
            f"| {SCENARIOS.get(key, f'`{key}`')} | {_yes(retries)} | {_num(m.get('sent'), None)} "
            f"| {_pair(m.get('failed'), w.get('failed'), digits=None)} "
            f"| {_pair(m.get('recovery_s'), w.get('recovery_s'), 's')} "
            f"| {_num(m.get('p50_ms'), 0)} / {_pair(m.get('p99_ms'), w.get('p99_ms'), 'ms', 0)} |"
        )
    failed = {k: m["error"] for k, m in (med.get("scenarios") or {}).items() if _unexpected(k, m.get("error"))}
    for key, error in failed.items():
        lines += ["", f"{SCENARIOS.get(key, key)} ({key}) ended with an error: {_first_line(error)}"]
    if any(m.get("recovery_s") is None for m in (med.get("scenarios") or {}).values()):
        lines += [
            "",
            "–: no figure (a bad update never becomes healthy; otherwise not healthy within the timeout in a run).",
        ]
    return "\n".join(lines)


def timings_table(report: dict[str, Any]) -> str:
    runs = _runs(report)
    med, worst = medians(runs), maxima(runs)
    lines = ["| what | median (slowest run) |", "|---|---|"]
    for key, value in med.items():
        if key in FIGURES:
            label, unit = FIGURES[key]
            if unit == "MiB" and value is not None:
                text = f"{value / 1024:.1f} GiB"
                if worst.get(key) is not None and round(worst[key] / 1024, 1) != round(value / 1024, 1):
                    text += f" ({worst[key] / 1024:.1f})"
            else:
                text = _pair(value, worst.get(key), unit, digits=None if unit in COUNTS else 1)
            lines.append(f"| {label} | {text} |")
        elif key.endswith("_s") and isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"| `{key}` | {_pair(value, worst.get(key), 's')} |")
    for key in EXPECTED_FIGURES:
        if key not in med:
            lines.append(f"| {FIGURES[key][0]} | {NOT_MEASURED} |")
    for group, label in (("notebooks_s", "lesson `{}`"), ("labs_s", "lab `{}`, run with its solution")):
        for notebook, seconds in (med.get(group) or {}).items():
            name = label.format(notebook.removesuffix(".ipynb"))
            lines.append(f"| {name} | {_pair(seconds, worst.get(group, {}).get(notebook), 's')} |")
    return "\n".join(lines)


def _first_line(error: str) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else "(no message)"


def _ratio(host: Any, local: Any) -> str:
    if not isinstance(host, (int, float)) or not isinstance(local, (int, float)) or not local:
        return "–"
    return f"{host / local:.1f}×"


def comparison_tables(local: dict[str, Any], host: dict[str, Any]) -> str:
    """The host backend's figures beside the local ones: each scenario's failed requests and seconds until
    healthy again, each timing, and host / local."""
    lm, hm = medians(_runs(local)), medians(_runs(host))
    hw = maxima(_runs(host))
    lines = [
        "| scenario | client retries | failed / sent: local | failed / sent: host "
        "| healthy again after: local | host | host / local |",
        "|---|---|---|---|---|---|---|",
    ]
    ls, hs = lm.get("scenarios") or {}, hm.get("scenarios") or {}
    for key in [*ls, *(k for k in hs if k not in ls)]:
        lo, ho, w = ls.get(key) or {}, hs.get(key) or {}, (hw.get("scenarios") or {}).get(key) or {}
        retries = ho.get("retries", lo.get("retries"))

        def sent(m: dict[str, Any], worst: dict[str, Any] | None = None) -> str:
            if not m:
                return NOT_MEASURED
            failed = _pair(m.get("failed"), (worst or {}).get("failed"), digits=None)
            return f"{failed} / {_num(m.get('sent'), None)}"

        lines.append(
            f"| {SCENARIOS.get(key, f'`{key}`')} | {_yes(retries)} | {sent(lo)} | {sent(ho, w)} "
            f"| {_pair(lo.get('recovery_s'), None, 's') if lo else '–'} "
            f"| {_pair(ho.get('recovery_s'), w.get('recovery_s'), 's') if ho else '–'} "
            f"| {_ratio(ho.get('recovery_s'), lo.get('recovery_s'))} |"
        )
    lines += ["", "| what | local | host | host / local |", "|---|---|---|---|"]
    for key, (label, unit) in FIGURES.items():
        if key not in lm and key not in hm:
            continue
        lo, ho = lm.get(key), hm.get(key)
        if unit == "MiB":
            lo_gib, ho_gib = (None if v is None else round(v / 1024, 1) for v in (lo, ho))
            lines.append(
                f"| {label} | {_pair(lo_gib, None, 'GiB')} | {_pair(ho_gib, None, 'GiB')} | {_ratio(ho, lo)} |"
            )
        else:
            digits = None if unit in COUNTS else 1
            lines.append(
                f"| {label} | {_pair(lo, None, unit, digits)} | {_pair(ho, hw.get(key), unit, digits)} "
                f"| {_ratio(ho, lo)} |"
            )
    for key, m in hs.items():
        if _unexpected(key, m.get("error")):
            lines += [
                "",
                f"On the host backend, {SCENARIOS.get(key, key)} ({key}) ended with an error: "
                + _first_line(m["error"]),
            ]
    return "\n".join(lines)


def machine_seconds(report: dict[str, Any] | None, how: Callable[[list[Any]], Any] = medians) -> dict[str, float]:
    """Every notebook's machine time in ``report`` (file name -> median seconds; ``how=maxima``: the slowest)."""
    figures = how(_runs(report)) if report else {}
    return {**(figures.get("notebooks_s") or {}), **(figures.get("labs_s") or {})}


AGENDA_ROW = re.compile(r"^`((?:notebooks|labs)/\w+)`$")


def agenda_table(report: dict[str, Any] | None, current: str, backend: str = "local") -> str:
    """An agenda of INSTRUCTOR.md: the hand-written rows of ``current`` kept (their order, the number, the
    notebook, what happens, a break's plan); generated: each notebook's machine column (median seconds on
    ``backend``, slowest run in brackets), its plan (helpers.pace: reading and running + the machine's time)
    and the totals. A notebook ``report`` has no time for says "not measured yet" instead of a number (a lesson
    added, split or renamed since that run, or on the host a lesson at all); without any report, a dash."""
    seconds, slowest = machine_seconds(report), machine_seconds(report, maxima)
    missing_text = NOT_MEASURED if report else "–"
    rows = [line for line in current.strip().splitlines() if line.startswith("|")]
    header, rule, body = rows[0], rows[1], [r for r in rows[2:] if "**total**" not in r]
    out, machine_total, plan_total, missing = [header, rule], 0.0, 0, False
    for row in body:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        number, notebook, _, plan, what = (cells + [""] * 5)[:5]
        machine = ""
        found = AGENDA_ROW.match(notebook)
        if found:
            path = NOTEBOOK_ROOT / f"{found[1]}.ipynb"
            estimate = pace.estimate(path, seconds)
            if estimate.machine_s is not None:
                machine_total += estimate.machine_s
                worst = slowest.get(path.name, estimate.machine_s)
                machine = _pair(round(estimate.machine_s), round(worst), digits=None)
                plan = str(estimate.minutes)
            elif backend == "local" and path.name in pace.NEEDS_KUBERNETES:  # on local it only explains
                machine, plan = "– (kind/host only)", str(estimate.reading_minutes)
            else:
                missing, machine = True, missing_text
                plan = f"{estimate.reading_minutes} + machine"
        plan_total += int(plan.split()[0]) if plan.split() and plan.split()[0].isdigit() else 0
        out.append(f"| {number} | {notebook} | {machine} | {plan} | {what} |")
    if report and not missing:
        total = f"**{round(machine_total)} s ({machine_total / 60:.1f} min)**"
    else:
        total = "–"
    hours, minutes = divmod(plan_total, 60)
    more = " + machine" if missing else ""
    out.append(f"| | **total** | {total} | **{plan_total} min{more}** | {hours} h {minutes:02d}{more} with the break |")
    return "\n".join(out)


def agenda(report: dict[str, Any] | None, current: str) -> str:
    """The local backend's agenda, where the source and the pace are stated."""
    first = source_line(report) if report else f"Machine seconds: {NO_RESULT}."
    table = agenda_table(report, current)
    parts = [first, f"Plan for (`helpers/pace.py`): {pace.method()}."]
    if f"| {NOT_MEASURED} |" in table:
        parts.append(
            f"A notebook this result has no machine time for ({NOT_MEASURED}: added, split or renamed since the run) "
            "is planned for its reading and running alone, plus the machine's time; the next `make bench` times it."
        )
    return "\n\n".join([*parts, table])


def agenda_host(local: dict[str, Any] | None, host: dict[str, Any] | None, current: str) -> str:
    """The kind/host agenda: the host backend's machine times where the result has them (said where not), and
    how much longer the timings measured on both backends took on the host."""
    table = agenda_table(host, current, backend="host")
    parts = [source_line(host, "host") if host else "Machine seconds on the host: no host result yet."]
    if f"| {NOT_MEASURED} |" in table:
        parts.append(
            f"Where the host result has no machine time for a notebook ({NOT_MEASURED}: `make bench BACKEND=host` "
            "times the scenarios, not the lessons and labs), its plan is the reading and running alone, plus the "
            "machine's time."
        )
    lm, hm = medians(_runs(local)) if local else {}, medians(_runs(host)) if host else {}
    both = {
        key: (lm[key], hm[key])
        for key, (_, unit) in FIGURES.items()
        if unit == "s" and _number(lm.get(key)) and _number(hm.get(key)) and lm[key]
    }
    if both:
        ratios = [h / lo for lo, h in both.values()]
        shown = "; ".join(
            f"{label} {_num(both[key][1])} s against {_num(both[key][0])} s"
            for key, label in (("cluster_up_s", "cluster up"), ("apply_to_ready_s", "apply to Ready"))
            if key in both
        )
        parts.append(
            f"The {len(both)} timings measured on both backends took {min(ratios):.1f} to {max(ratios):.1f} times "
            f"as long on the host as on the local backend ({shown}; all of them in README's figures)."
        )
    return "\n\n".join([*parts, table])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the blocks --------------------------------------------------------------------------------------------


def load(path: Path | None = None) -> dict[str, Any] | None:
    path = path or RESULT
    return json.loads(path.read_text()) if path.exists() else None


def block(name: str, result: dict[str, Any] | None, current: str) -> str:
    """Block ``name`` from ``result`` (one report per backend; None: no committed result)."""
    report = (result or {}).get("local")
    host = (result or {}).get("host")
    if name == "agenda":
        return agenda(report, current)
    if name == "agenda-host":
        return agenda_host(report, host, current)
    if not report:
        return f"{NO_RESULT[0].upper()}{NO_RESULT[1:]}."
    if name == "figures":
        parts = [source_line(report), scenarios_table(report), timings_table(report)]
        if host:
            parts += [
                "On the host backend (a real Kubernetes and KubeRay operator on this machine, the Ray pods in "
                "containers), the same scenarios: " + source_line(host, "host"),
                comparison_tables(report, host),
            ]
        return "\n\n".join(parts)
    if name == "source":
        return source_line(report)
    if name == "scenarios":
        return scenarios_table(report)
    if name == "timings":
        return timings_table(report)
    raise ValueError(f"unknown bench block {name!r}: use figures, source, scenarios, timings, agenda or agenda-host")


def render(text: str, result: dict[str, Any] | None) -> str:
    """``text`` with every generated block rewritten from ``result`` (None: no committed result)."""
    return BLOCK.sub(lambda m: m[1] + block(m["name"], result, m["body"]).rstrip("\n") + "\n" + m[4], text)


def shown(path: Path) -> str:
    """``path`` relative to the project when it is inside it."""
    try:
        return str(path.relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


def write(result: dict[str, Any] | None = None, documents: tuple[Path, ...] | None = None) -> list[Path]:
    """Rewrite the generated blocks of ``documents`` (README.md and labs/INSTRUCTOR.md) from ``result``
    (default: the committed result); returns the files that changed."""
    report = load() if result is None else result
    changed = []
    for path in documents or DOCUMENTS:
        text = path.read_text()
        new = render(text, report)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
