"""The lessons as a learner runs them: papermill end to end, nbval against stored outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner
from helpers.backends.local import LocalBackend

pytestmark = pytest.mark.notebooks

ROOT = config.PROJECT_ROOT
SANITIZE = Path(__file__).with_name("sanitize.cfg")
NOTEBOOKS = runner.lesson_notebooks()


@pytest.fixture(scope="module", autouse=True)
def stop_the_cluster_afterwards():
    yield
    LocalBackend().down(quiet=True)


def nbval(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval-lax",
            f"--nbval-kernel-name={runner.KERNEL}",
            f"--nbval-sanitize-with={SANITIZE}",
            *map(str, paths),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_lessons_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "00_setup.ipynb",
        "01_cluster.ipynb",
        "02_deploy_rayservice.ipynb",
        "03_routing.ipynb",
        "04_self_healing.ipynb",
        "05_rolling_updates.ipynb",
        "06_monitoring.ipynb",
        "07_cleanup.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_skeleton(path: Path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    for heading in ("What you will learn", "Prerequisites", "Time", "Key points", "Check yourself"):
        assert any(heading in c.source for c in cells if c.cell_type == "markdown"), heading
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'BACKEND = "local"' in params[0].source
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"no prose before: {cell.source[:60]!r}"
    checked = [c for c in cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert checked or path.name == "00_setup.ipynb"
    for cell in checked:
        assert cell.outputs, f"checked cell without a stored reference output: {cell.source[:60]!r}"
    text = json.dumps(nb)
    for forbidden in ("/work/", "/root/", "/home/", "/tmp/"):
        assert forbidden not in text, f"{path.name} contains a machine-specific path {forbidden}"
    assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))


def test_nbval_matches_the_stored_outputs():
    result = nbval(*NOTEBOOKS)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_canary_a_wrong_stored_output_fails(tmp_path):
    """nbval must catch a stored output that does not match: otherwise the check above proves nothing."""
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
        shutil.copy(config.NOTEBOOKS_DIR / "00_setup.ipynb", folder / "00_setup.ipynb")
    nb = nbformat.read(bad / "00_setup.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "KubeRay {helpers.KUBERAY_VERSION}" in c.source]
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace(config.RAY_VERSION, "2.9.0", 1)
    nbformat.write(nb, bad / "00_setup.ipynb")

    assert nbval(good / "00_setup.ipynb").returncode == 0
    result = nbval(bad / "00_setup.ipynb")
    assert result.returncode != 0
    assert "2.9.0" in result.stdout


def test_make_run_after_a_full_run():
    """`make run` runs `python -m helpers run`: papermill over every lesson, a summary, then down.

    It follows the nbval run above, itself a complete run of every lesson ending with 07_cleanup,
    so this is the tutorial run twice in a row (a third full run would push `make test` past 20 min).
    """
    result = subprocess.run([sys.executable, "-m", "helpers", "run"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    rows = [line.split()[:2] for line in result.stdout.splitlines()]
    for path in NOTEBOOKS:
        assert [path.name, "ok"] in rows, result.stdout[-3000:]
    assert LocalBackend().our_processes() == []
    # The measured lessons render their plots into the executed notebooks.
    for name in ("04_self_healing.ipynb", "05_rolling_updates.ipynb", "06_monitoring.ipynb"):
        executed = nbformat.read(config.BUILD_DIR / "notebooks" / name, as_version=4)
        pngs = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert pngs, f"{name} has no rendered plot"
