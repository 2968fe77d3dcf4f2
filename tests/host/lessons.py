"""The lessons and labs the host tests run, and the stored outputs a real cluster prints differently.

outputs-host.json maps a lesson to {cell id: text} for the checked cells whose output on the host cluster is not
the local backend's (recorded from a real run: ``python -m tests.host.lessons record build/host-notebooks/*.ipynb``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from helpers import config, runner

HOST_LESSONS = runner.select_lessons(["01", "02", "03", "04a", "04b", "05", "07", "08"])
# Lab 05 last: it deletes the lessons' RayService first and leaves its own namespace empty.
HOST_LABS = sorted(
    (p for p in runner.lab_notebooks() if p.stem[:5] in ("lab01", "lab02", "lab03", "lab05", "lab07")),
    key=lambda p: p.stem.startswith("lab05"),
)
OUTPUTS = Path(__file__).with_name("outputs-host.json")


def host_outputs() -> dict[str, dict[str, str]]:
    return json.loads(OUTPUTS.read_text()) if OUTPUTS.exists() else {}


def for_host(path: Path) -> nbformat.NotebookNode:
    """The lesson with BACKEND="host" injected as papermill does, and the host's own stored outputs."""
    nb = parameterize_notebook(
        load_notebook_node(str(path)), {"BACKEND": "host"}
    )  # papermill's read: every cell has tags
    own = host_outputs().get(path.name, {})
    for cell in nb.cells:
        if cell.get("id") in own:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=own[cell.id])]
    return nb


def record(executed: list[Path]) -> None:
    """Keep the host's output of every checked cell whose output differs from the stored (local) one."""
    stored = host_outputs()
    for path in executed:
        ran = {c.id: c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"}
        own = {}
        for cell in nbformat.read(config.NOTEBOOKS_DIR / path.name, as_version=4).cells:
            if "nbval-check-output" not in cell.metadata.get("tags", []) or cell.id not in ran:
                continue
            text = "".join(o.get("text", "") for o in ran[cell.id].outputs if o.get("output_type") == "stream")
            if text != "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"):
                own[cell.id] = text
        stored[path.name] = own
    OUTPUTS.write_text(json.dumps({k: v for k, v in sorted(stored.items()) if v}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"] or not sys.argv[2:]:
        raise SystemExit("usage: python -m tests.host.lessons record build/host-notebooks/NN_lesson.ipynb ...")
    record([Path(p) for p in sys.argv[2:]])
