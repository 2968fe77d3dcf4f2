"""JupyterLab in a real browser: the status board of lesson 06 renders as a live widget.

JupyterLab runs on 127.0.0.1 with a token; Playwright drives Debian's Chromium (.ci/run installs the
`chromium` package; browser downloads are not reachable here). The test runs the lesson's
status-board cells, checks the widget lists the three applications, and saves a screenshot to
build/status-board.png.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

import nbformat
import pytest
import requests

from helpers import config
from helpers.backends.local import LocalBackend
from helpers.board import HEADLESS_VAR

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)"
    ),
]
SCREENSHOT = config.BUILD_DIR / "status-board.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    backend = LocalBackend()
    backend.up("manifests/ray-service-multi.yaml")
    backend.apply("manifests/ray-service-multi.yaml")
    backend.wait_ready(180)
    yield backend
    # Left up: the labs (the next module) start on it, as they do after a learner's lesson 06 ("reuses the
    # running cluster if there is one"); tests/notebooks/conftest.py stops it when the session ends.


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving a notebook of lesson 06's status-board cells."""
    root = tmp_path_factory.mktemp("lab")
    lesson = nbformat.read(config.NOTEBOOKS_DIR / "06_monitoring.ipynb", as_version=4)
    params = next(c for c in lesson.cells if "parameters" in c.metadata.get("tags", []))
    setup = next(c for c in lesson.cells if c.cell_type == "code" and "get_backend(BACKEND" in c.source)
    board = next(c for c in lesson.cells if "status-board" in c.metadata.get("tags", []))
    nb = nbformat.v4.new_notebook(metadata=lesson.metadata)
    nb.cells = [nbformat.v4.new_code_cell(c.source) for c in (params, setup, board)]
    nbformat.write(nb, root / "board.ipynb")

    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != HEADLESS_VAR}  # a real frontend: widgets
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.app_settings_dir={config.LAB_SETTINGS_DIR}",  # as `make lab`: no Jupyter news pop-up
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
    # Without the token the server refuses: it is not open to whoever reaches the port.
    assert requests.get(f"{url}/api/contents", timeout=5).status_code == 403
    yield url, token, port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_jupyterlab_listens_on_loopback_only(lab):
    import psutil

    _, _, port = lab
    addresses = {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}
    assert addresses == {"127.0.0.1"}


def run_all_until_board(page, timeout: float = 180) -> None:
    """Run > Run All Cells until the board shows; answer JupyterLab's "Select Kernel" dialog
    (it can appear while the kernel list is still loading) with the tutorial's kernel."""
    deadline = time.monotonic() + timeout
    last_click = 0.0
    while time.monotonic() < deadline:
        if page.locator(".rst-board").count():
            return
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            select = dialog.locator("select")
            if select.count():
                select.select_option(label="RayService tutorial")
            dialog.get_by_role("button", name="Select").click()
            last_click = 0.0  # run again with the kernel chosen
        elif time.monotonic() - last_click > 45:
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            last_click = time.monotonic()
        page.wait_for_timeout(1000)
    raise AssertionError("the status board did not appear")


def test_status_board_renders_in_jupyterlab(cluster, lab):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/lab/tree/board.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
            run_all_until_board(page)
            page.wait_for_function(
                "['hello', 'predict-a', 'predict-b'].every("
                "a => (document.querySelector('.rst-board') || {innerText: ''}).innerText.includes(a))",
                timeout=60_000,
            )
            text = page.inner_text(".rst-board")
            page.locator(".rst-board").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        except Exception:
            page.screenshot(path=str(SCREENSHOT.with_name("status-board-failure.png")), full_page=True)
            raise
        finally:
            browser.close()
    for expected in ("Ready=True", "hello", "predict-a", "predict-b", "/predict-a", "RUNNING"):
        assert expected in text, text
    assert SCREENSHOT.read_bytes()[:4] == b"\x89PNG"
