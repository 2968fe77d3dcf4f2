"""The helpers stand alone: installed from a copy of the package (not the repository), ``python -m helpers lint``
works from any directory, reading only what the package itself holds (the CRD extract and the catalog in its data).
Importing the helpers leaves the working directory where it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from helpers import config

ROOT = config.PROJECT_ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install`` of a copy of the package's sources (pyproject.toml, README.md, helpers/) into a folder."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    target = base / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(ROOT / "labs" / "broken" / "article-ray-service.yaml", elsewhere / "article.yaml")
    shutil.copy(ROOT / "manifests" / "ray-service.yaml", elsewhere / "good.yaml")
    return target, elsewhere


def run(installed, *args: str, **env: str) -> subprocess.CompletedProcess:
    target, elsewhere = installed
    environ = {key: value for key, value in os.environ.items() if key != "TUTORIAL_LANG"}
    environ.update(PYTHONPATH=str(target), **env)
    return subprocess.run(
        [sys.executable, *args], cwd=elsewhere, env=environ, capture_output=True, text=True, timeout=300
    )


def test_the_installed_copy_is_the_one_imported(installed):
    target, _ = installed
    where = run(installed, "-c", "import os, helpers; print(helpers.__file__); print(os.getcwd())")
    assert where.returncode == 0, where.stderr
    module, cwd = where.stdout.splitlines()
    assert module.startswith(str(target)) and cwd == str(installed[1])  # and the import moved no folder


def test_lint_from_an_installed_copy_exits_1_on_the_articles_mistakes_and_0_on_a_good_manifest(installed):
    bad = run(installed, "-m", "helpers", "lint", "article.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "serveConfigV2" in bad.stdout and "Traceback" not in bad.stderr
    good = run(installed, "-m", "helpers", "lint", "good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr


def test_the_installed_copy_reads_its_korean_catalog(installed):
    bad = run(installed, "-m", "helpers", "lint", "article.yaml", TUTORIAL_LANG="ko")
    assert bad.returncode == 1
    assert any("\uac00" <= ch <= "\ud7a3" for ch in bad.stdout), bad.stdout
