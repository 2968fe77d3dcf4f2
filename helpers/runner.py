"""Execute the lesson notebooks in order with papermill and print a summary table.

    python -m helpers run [--backend local] [--keep-cluster]

Executed copies go to build/notebooks/. Stops at the first failing notebook (the later ones
build on it), names it and the failing cell, and exits non-zero.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers import config

KERNEL = "rayservice-tutorial"


@dataclass
class Result:
    notebook: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    error: str = ""


def lesson_notebooks(folder: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if re.match(r"\d\d_", p.name))


def lab_notebooks(folder: Path = config.PROJECT_ROOT / "labs") -> list[Path]:
    return sorted(folder.glob("lab[0-9][0-9]_*.ipynb"))


def lab_solution(path: Path) -> Path:
    """labs/lab03_chaos.ipynb -> labs/solutions/lab03.py"""
    return path.parent / "solutions" / f"{path.stem.split('_')[0]}.py"


def with_answer(path: Path, answer: str, out_dir: Path) -> Path:
    """A copy of lab ``path`` in ``out_dir`` (same name) whose cell tagged `answer` holds ``answer``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "answer" in c.metadata.get("tags", [])]
    cell.source = answer
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / path.name
    nbformat.write(nb, copy)
    return copy


def run_labs(backend: str, out_dir: Path | None = None) -> list[Result]:
    """Every lab with its solution in the answer cell, strict (a check that fails fails the notebook)."""
    out_dir = out_dir or config.BUILD_DIR / "labs"
    if "RAYSERVICE_TUTORIAL_LABS_ANSWERS" not in os.environ:  # never a learner's labs/answers; a fresh one each time
        shutil.rmtree(out_dir / "answers", ignore_errors=True)
        os.environ["RAYSERVICE_TUTORIAL_LABS_ANSWERS"] = str(out_dir / "answers")
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")
    results = []
    for path in lab_notebooks():
        solved = with_answer(path, lab_solution(path).read_text(), out_dir / "input")
        result = run_notebook(solved, out_dir, {"BACKEND": backend, "STRICT": True}, cwd=path.parent)
        print(
            f"  {path.name}: {result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else "")
        )
        results.append(result)
    return results


def run_notebook(path: Path, out_dir: Path, parameters: dict, cwd: Path | None = None) -> Result:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        papermill.execute_notebook(
            str(path),
            str(out_dir / path.name),
            parameters=parameters,
            cwd=str(cwd or path.parent),
            kernel_name=KERNEL,
            progress_bar=False,
        )
    except PapermillExecutionError as exc:
        last = (exc.evalue or "").strip().splitlines()
        return Result(
            path.name,
            "failed",
            time.monotonic() - start,
            f"cell {exc.cell_index} (execution count {exc.exec_count}): {exc.ename}: {last[0] if last else ''}",
        )
    except Exception as exc:  # noqa: BLE001 - kernel died, notebook unreadable...
        return Result(path.name, "failed", time.monotonic() - start, f"{type(exc).__name__}: {exc}")
    return Result(path.name, "ok", time.monotonic() - start)


def run_all(backend: str, out_dir: Path | None = None, notebooks: list[Path] | None = None) -> list[Result]:
    out_dir = out_dir or config.BUILD_DIR / "notebooks"
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")  # no browser: widgets print plain text
    results: list[Result] = []
    failed = False
    for path in notebooks or lesson_notebooks():
        if failed:
            results.append(Result(path.name, "skipped"))
            continue
        print(f"▶ {path.name} ...", flush=True)
        result = run_notebook(path, out_dir, {"BACKEND": backend})
        print(f"  {result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else ""))
        results.append(result)
        failed = result.status == "failed"
    (out_dir / "summary.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    return results


def table(results: list[Result]) -> str:
    width = max([len("notebook")] + [len(r.notebook) for r in results])
    lines = [f"{'notebook':<{width}}  {'result':<7}  {'seconds':>7}", "-" * (width + 18)]
    for r in results:
        lines.append(f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:7.1f}")
    total = sum(r.seconds for r in results)
    lines.append("-" * (width + 18))
    lines.append(f"{'total':<{width}}  {'':<7}  {total:7.1f}")
    for r in results:
        if r.status == "failed":
            lines.append(f"\nFAILED: {r.notebook}, {r.error}\n  executed copy: build/notebooks/{r.notebook}")
    return "\n".join(lines)


def refresh(paths: list[Path] | None = None) -> None:
    """Re-record the reference outputs stored in the committed notebooks (a real run, in place).

    nbval compares later runs against these outputs, so run this only after a deliberate change
    to a lesson, and review the diff.
    """
    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")
    for path in paths or lesson_notebooks():
        print(f"▶ recording {path.name}", flush=True)
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}}).execute()
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(nb, path)
