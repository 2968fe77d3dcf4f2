"""Execute the lesson notebooks in order with papermill and print a summary table.

    python -m helpers run [--backend local] [--keep-cluster]

Executed copies go to build/notebooks/. One line per notebook, then the summary table. Stops at the
first failing notebook (the later ones build on it), names it, the failing cell and the error, and exits
non-zero. The kernels are started quietly (see QuietKernelManager): no transport warning, no
"KeyboardInterrupt caught in kernel" at shutdown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers import config, i18n

KERNEL = "rayservice-tutorial"


@dataclass
class Result:
    notebook: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    error: str = ""  # one line: the failing cell and the error's first line
    detail: str = ""  # the whole error message (the project's errors lead with what to do)
    output: str = ""  # the executed copy


def _kernel_manager_class():
    """papermill's kernel manager, quiet on a terminal:

    - CurveZMQ transport encryption, which the kernelspec declares (``supported_encryption``): without it
      ipykernel 7 logs "Kernel is running over TCP without encryption" to the terminal for every notebook;
    - no SIGINT at shutdown: jupyter_client interrupts the kernel before asking it to shut down, and a
      kernel that is handling a message at that moment logs "KeyboardInterrupt caught in kernel." although
      nothing went wrong. Papermill shuts a kernel down only once it is idle (a cell that times out is
      interrupted by nbclient's own call, which this does not change); a kernel that does not stop is
      killed after jupyter_client's wait, as before.
    """
    global _QUIET
    if _QUIET is None:
        from jupyter_client.manager import AsyncKernelManager

        class QuietKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.transport_encryption = "auto"

            async def _async_interrupt_kernel(self) -> None:
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        _QUIET = QuietKernelManager
    return _QUIET


_QUIET = None


# A lesson's file name: its number, a letter for a lesson in parts (04a_self_healing, 04b_head_failure), a name.
LESSON_NAME = re.compile(r"\d\d[a-z]?_")


def lesson_notebooks(folder: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if LESSON_NAME.match(p.name))


def tutorial_notebooks(folder: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """What `make run` executes: every lesson, then every lab, then the last lesson (cleanup) once the labs, which
    use the lessons' cluster, are done."""
    lessons = lesson_notebooks(folder)
    labs = config.PROJECT_ROOT / "labs"
    if folder.resolve() != config.NOTEBOOKS_DIR.resolve():  # an edition: notebooks/ko -> labs/ko
        labs = labs / folder.name
    return lessons[:-1] + lab_notebooks(labs) + lessons[-1:]


def select_lessons(names: list[str], folder: Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """Lessons (and labs) by name, in the order given: ``03_routing``, ``03_routing.ipynb`` or ``03`` all name the
    same lesson; ``lab03_chaos`` or ``lab03`` a lab. A lesson in parts is named by part (``04a``) or whole: ``04``
    names its parts in order (``04a_self_healing``, ``04b_head_failure``)."""
    lessons = tutorial_notebooks(folder)
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        match = [p for p in lessons if p.stem == stem or p.stem.split("_")[0] == stem]
        if not match and re.fullmatch(r"\d\d", stem):  # a lesson in parts, by its number: every part
            match = [p for p in lessons if re.fullmatch(rf"{stem}[a-z]", p.stem.split("_")[0])]
        elif len(match) > 1:
            match = []
        if not match:
            raise ValueError(
                f"no lesson or lab called {name!r}: write one of "
                + ", ".join(p.stem for p in lessons)
                + " (or its number)"
            )
        chosen += match
    return chosen


def is_lab(path: Path) -> bool:
    return re.match(r"lab\d\d_", path.name) is not None


def lab_notebooks(folder: Path = config.PROJECT_ROOT / "labs") -> list[Path]:
    return sorted(folder.glob("lab[0-9][0-9]_*.ipynb"))


def lab_solution(path: Path) -> Path:
    """labs/lab03_chaos.ipynb -> labs/solutions/lab03.yaml (the learner's answer file, solved; lab 05's is a
    runbook, lab05.sh)"""
    solutions = i18n.english_folder(path.parent) / "solutions"
    lab = path.stem.split("_")[0]
    return next(iter(sorted(solutions.glob(f"{lab}.*"))), solutions / f"{lab}.yaml")


def with_answer(path: Path, solution: Path, answers: Path) -> Path:
    """Put ``solution`` where lab ``path`` keeps the learner's answer (``answers``/its answer file), as a
    learner who edited that file would have: the lab's start() keeps it. Returns the answer file."""
    from helpers import checks

    answers.mkdir(parents=True, exist_ok=True)
    answer = answers / checks.ANSWER_FILES[path.stem.split("_")[0]]
    shutil.copyfile(solution, answer)
    return answer


LAB_ANSWERS = "RAYSERVICE_TUTORIAL_LABS_ANSWERS"


def _lab_answers_dir(out_dir: Path) -> None:
    """The labs' answer files go to ``out_dir``/answers, fresh, never to a learner's labs/answers."""
    if LAB_ANSWERS not in os.environ:
        shutil.rmtree(out_dir / "answers", ignore_errors=True)
        os.environ[LAB_ANSWERS] = str(out_dir / "answers")


def run_labs(backend: str, out_dir: Path | None = None) -> list[Result]:
    """Every lab with its solution as the learner's answer file, strict (a check that fails fails the notebook)."""
    out_dir = out_dir or config.BUILD_DIR / "labs"
    _lab_answers_dir(out_dir)
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")
    answers = Path(os.environ[LAB_ANSWERS])
    results = []
    for path in lab_notebooks():
        with_answer(path, lab_solution(path), answers)
        result = run_notebook(path, out_dir, {"BACKEND": backend, "STRICT": True}, cwd=path.parent)
        print(
            f"  {path.name}: {result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else "")
        )
        results.append(result)
    return results


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _failing_cell(path: Path, exc) -> str:
    """'cell 12 (In [7]) `outcome = scenarios.replica_crash(...)`': the cell's number in the notebook
    as the learner opens it (papermill counts its injected parameters cell too), its execution count and
    its first line of code."""
    import nbformat

    number = exc.cell_index + 1
    try:
        cells = nbformat.read(path, as_version=4).cells
        for index in (exc.cell_index - 1, exc.cell_index):  # after papermill's injected cell, or no such cell
            if 0 <= index < len(cells) and cells[index].source == exc.source:
                number = index + 1
                break
    except Exception:  # noqa: BLE001 - the number is a help, the error itself is what matters
        pass
    code = next((line.strip() for line in (exc.source or "").splitlines() if line.strip()), "")
    if len(code) > 70:
        code = code[:67] + "..."
    count = f" (In [{exc.exec_count}])" if exc.exec_count else ""
    return f"cell {number}{count}" + (f" `{code}`" if code else "")


def run_notebook(path: Path, out_dir: Path, parameters: dict, cwd: Path | None = None) -> Result:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    output = _display_path(out_dir / path.name)
    os.environ["RAYSERVICE_LESSON"] = path.stem  # the kernel's lesson (helpers.transcripts)
    start = time.monotonic()
    try:
        papermill.execute_notebook(
            str(path),
            str(out_dir / path.name),
            parameters=parameters,
            cwd=str(cwd or path.parent),
            kernel_name=KERNEL,
            progress_bar=False,
            kernel_manager_class=_kernel_manager_class(),
        )
    except PapermillExecutionError as exc:
        message = (exc.evalue or "").strip()
        first = message.splitlines()[0] if message else ""
        return Result(
            path.name,
            "failed",
            time.monotonic() - start,
            f"{_failing_cell(path, exc)}: {exc.ename}" + (f": {first}" if first else ""),
            f"{exc.ename}: {message}" if message else exc.ename,
            output,
        )
    except Exception as exc:  # noqa: BLE001 - kernel died, notebook unreadable...
        error = f"{type(exc).__name__}: {exc}"
        return Result(path.name, "failed", time.monotonic() - start, error, error, output)
    return Result(path.name, "ok", time.monotonic() - start, output=output)


def run_all(backend: str, out_dir: Path | None = None, notebooks: list[Path] | None = None) -> list[Result]:
    """Every lesson in order, one line each; after a failure the rest are skipped (they build on it)."""
    out_dir = out_dir or config.BUILD_DIR / "notebooks"
    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")  # no browser: widgets print plain text
    paths = notebooks or lesson_notebooks()
    width = max(len(p.name) for p in paths) if paths else 0
    results: list[Result] = []
    failed = False
    for path in paths:
        if failed:
            results.append(Result(path.name, "skipped"))
            continue
        print(f"▶ {path.name:<{width}}  ", end="", flush=True)
        if is_lab(path):  # with its solution as the learner's answer file, strict: a check that fails fails it
            _lab_answers_dir(out_dir)
            with_answer(path, lab_solution(path), Path(os.environ[LAB_ANSWERS]))
            result = run_notebook(path, out_dir, {"BACKEND": backend, "STRICT": True}, cwd=path.parent)
        else:
            result = run_notebook(path, out_dir, {"BACKEND": backend})
        print(f"{result.status} in {result.seconds:.1f} s", flush=True)
        results.append(result)
        failed = result.status == "failed"
    (out_dir / "summary.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    return results


MAX_DETAIL_LINES = 25


def table(results: list[Result]) -> str:
    """The summary: notebook / result / seconds, a total, then each failure with its cell and whole error."""
    width = max([len("notebook")] + [len(r.notebook) for r in results])
    lines = [f"{'notebook':<{width}}  {'result':<7}  {'seconds':>7}", "-" * (width + 18)]
    for r in results:
        lines.append(f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:7.1f}")
    total = sum(r.seconds for r in results)
    lines.append("-" * (width + 18))
    lines.append(f"{'total':<{width}}  {'':<7}  {total:7.1f}")
    for r in results:
        if r.status == "failed":
            lines.append(f"\nFAILED: {r.notebook}, {r.error}")
            detail = (r.detail or "").splitlines()
            if len(detail) > 1:
                shown = detail[:MAX_DETAIL_LINES]
                if len(detail) > MAX_DETAIL_LINES:
                    shown.append(f"... ({len(detail) - MAX_DETAIL_LINES} more lines in the executed copy)")
                lines.extend("  " + line for line in shown)
            if r.output:
                lines.append(f"  executed copy: {r.output}")
    return "\n".join(lines)


def without_workshop_setting() -> None:
    """Unset $TUTORIAL_BACKEND and $TUTORIAL_NAMESPACE for the kernels started from here on: what is recorded for
    the repository (the lessons' reference outputs, the transcripts) is the default namespace's, whatever
    workshop this terminal was set up for."""
    for name in (config.BACKEND_ENV, config.NAMESPACE_ENV):
        os.environ.pop(name, None)


def refresh(paths: list[Path] | None = None) -> None:
    """Re-record the reference outputs stored in the committed notebooks (a real run, in place, on the local
    backend in the default namespace).

    nbval compares later runs against these outputs, so run this only after a deliberate change
    to a lesson, and review the diff.
    """
    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("RAYSERVICE_HEADLESS", "1")
    without_workshop_setting()
    for path in paths or lesson_notebooks():
        print(f"▶ recording {path.name}", flush=True)
        os.environ["RAYSERVICE_LESSON"] = path.stem  # the kernel's lesson: its own recorded kubectl output
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb,
            kernel_name=KERNEL,
            kernel_manager_class=_kernel_manager_class(),
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(nb, path)
