"""The lessons as a learner runs them: papermill end to end, nbval against stored outputs, and again.

Idempotency: nbval runs every lesson against the stored outputs, and runs again right away (a new kernel,
as after a kernel restart) the lessons where a second run starts from a different state (RERUN below).
`make run` then runs lessons starting with no cluster up (06 first: a lesson opened cold brings the cluster
up), prints its summary and stops everything; `make down` twice in a row succeeds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner
from helpers.backends.local import LocalBackend
from tests.nbval_run import nbval as run_nbval

from ..notebook_paths import machine_paths

pytestmark = pytest.mark.notebooks

ROOT = config.PROJECT_ROOT
SANITIZE = Path(__file__).with_name("sanitize.cfg")
NOTEBOOKS = runner.lesson_notebooks()


@pytest.fixture(scope="module", autouse=True)
def stop_the_cluster_afterwards():
    yield
    LocalBackend().down(quiet=True)


def nbval(*paths: Path) -> subprocess.CompletedProcess:
    return run_nbval(*paths, sanitize=SANITIZE, cwd=ROOT, rerun=True)


def test_the_lessons_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "00_setup.ipynb",
        "01_cluster.ipynb",
        "02_deploy_rayservice.ipynb",
        "03_routing.ipynb",
        "04a_self_healing.ipynb",
        "04b_head_failure.ipynb",
        "05_rolling_updates.ipynb",
        "06_monitoring.ipynb",
        "07_autoscaling.ipynb",
        "08_debugging.ipynb",
        "09_cleanup.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_skeleton(path: Path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    for heading in ("What you will learn", "Prerequisites", "Time", "Key points", "Check yourself"):
        assert any(heading in c.source for c in cells if c.cell_type == "markdown"), heading
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'BACKEND = os.environ.get("TUTORIAL_BACKEND", "local")' in params[0].source
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"no prose before: {cell.source[:60]!r}"
    # nbval's markers are cell tags, not comments at the top of the learner's cells.
    assert not any("NBVAL_" in c.source for c in cells if c.cell_type == "code")
    checked = [c for c in cells if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]
    assert checked or path.name == "00_setup.ipynb"
    for cell in checked:
        assert cell.outputs, f"checked cell without a stored reference output: {cell.source[:60]!r}"
    found = machine_paths(nb)
    assert not found, f"{path.name} contains a machine-specific path {', '.join(found)}"
    assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))
    if path.name in PLOTTED:  # recorded on real Ray (`helpers refresh`): the plots rendered inline
        assert any("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])), path.name


OPENED_FIRST = [p for p in NOTEBOOKS if p.name[:2] in ("03", "04", "05", "06", "07", "08")]


@pytest.mark.parametrize("path", OPENED_FIRST, ids=lambda p: p.name)
def test_every_lesson_brings_up_its_own_cluster(path: Path):
    """A learner may open any of these first: each calls `backend.up(...)` before anything needs a cluster (up
    reuses a running cluster of the same shape, or starts one)."""
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    uses = [i for i, src in enumerate(code) if re.search(r"backend\.(apply|wait_ready|status|replace_cluster)\(", src)]
    ups = [i for i, src in enumerate(code) if "backend.up(" in src]
    assert ups and uses and ups[0] <= uses[0], path.name


PLOTTED = (
    "04a_self_healing.ipynb",
    "04b_head_failure.ipynb",
    "05_rolling_updates.ipynb",
    "06_monitoring.ipynb",
    "07_autoscaling.ipynb",
)


# Lessons run a second time right after the first (a new kernel, from what the first left behind), where
# that proves something the first run does not: 02 applies a RayService that is already there, 09 cleans up
# what is already gone. The other lessons bring the cluster to a known state first (05 deletes the
# applications and applies its own; 04a, 04b, 06 and 07 apply theirs), so one run each proves what they do.
RERUN = ("02_deploy_rayservice.ipynb", "09_cleanup.ipynb")


# Thirteen lesson runs in one nbval session (about 15-17 minutes on 2 cores): the suite's 15-minute limit per test
# is for one step, not for the whole tutorial.
@pytest.mark.timeout(1800)
def test_nbval_every_lesson_matches_the_stored_outputs_and_reruns_where_it_matters():
    """00, 01, 02, 02, 03, 04a, 04b, 05, 06, 07, 08, 09, 09, each in a new kernel, against the stored outputs."""
    LocalBackend().down(quiet=True)
    order = [path for path in NOTEBOOKS for _ in range(2 if path.name in RERUN else 1)]
    assert len(order) == len(NOTEBOOKS) + len(RERUN)
    result = nbval(*order)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    cells = sum(1 for p in order for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")
    assert f"{cells} passed" in result.stdout, result.stdout[-2000:]
    assert LocalBackend().our_processes() == []  # 09_cleanup, run twice, left nothing


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


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True)


# `make run` over lessons nbval has just executed would repeat that work; what it adds is the target itself: the
# runner (papermill with the parameters, one line per lesson, the summary last, `down` at the end) from no
# cluster. Two quick lessons show it. (A lesson opened cold brings the cluster up: 01 does in the nbval run, and
# test_every_lesson_brings_up_its_own_cluster checks the others call `backend.up` before they use it.)
MAKE_RUN = ("00_setup", "09_cleanup")


def test_make_run_from_no_cluster():
    """`make run`: papermill over the lessons, a summary table, then down; the first lesson starts cold."""
    assert not LocalBackend().is_up()
    result = make("run", f"LESSONS={' '.join(MAKE_RUN)}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    rows = [line.split()[:2] for line in result.stdout.splitlines()]
    for name in MAKE_RUN:
        assert [f"{name}.ipynb", "ok"] in rows, result.stdout[-3000:]
    ours = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith("make[")]
    assert ours[-1].startswith("total"), result.stdout[-1000:]  # the summary table comes last
    assert LocalBackend().our_processes() == []
    executed = nbformat.read(config.BUILD_DIR / "notebooks" / "09_cleanup.ipynb", as_version=4)
    assert "left behind: nothing" in json.dumps(executed)  # papermill's copy, with its outputs


def test_make_run_in_korean():
    """`make run TUTORIAL_LANG=ko`: the Korean lessons (notebooks/ko/), executed into build/notebooks/ko/, and the
    helpers' messages in Korean."""
    result = make("run", "TUTORIAL_LANG=ko", "LESSONS=00_setup")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert ["00_setup.ipynb", "ok"] in [line.split()[:2] for line in result.stdout.splitlines()], result.stdout
    executed = nbformat.read(config.BUILD_DIR / "notebooks" / "ko" / "00_setup.ipynb", as_version=4)
    assert 'TUTORIAL_LANG = "ko"' in "\n".join(c.source for c in executed.cells)  # the Korean notebook
    shown = "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for c in executed.cells
                      for o in c.get("outputs", []))  # fmt: skip
    assert "✓ CPU 코어 >= 2: 코어 " in shown and "✓ 사용 가능한 메모리 >= 4 GiB: " in shown  # preflight, in Korean
    assert "ready: True" in shown  # the code is the English code


def test_make_down_twice_in_a_row():
    first, second = make("down"), make("down")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "Nothing was running." in second.stdout
