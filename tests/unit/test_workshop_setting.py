"""One setting for a whole workshop, and `make lab` as the project sets it up.

- Every lesson's and lab's parameters cell (English and Korean) reads the backend and the namespace from the
  environment ($TUTORIAL_BACKEND, $TUTORIAL_NAMESPACE) with the same defaults, and the value reaches the
  notebook's code; `make run`, `make down`... follow the same variable unless BACKEND is given.
- `make lab` starts JupyterLab with the project's settings defaults (.jupyterlab/overrides.json): no "get notified
  about Jupyter news?" pop-up. The settings API of a JupyterLab started that way answers fetchNews "false"
  (checked by hand: CONTRIBUTING.md); here, that the target passes the folder and the file says so.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner, translate

ENGLISH = runner.lesson_notebooks() + runner.lab_notebooks()
EDITIONS = ENGLISH + [translate.korean_path(p) for p in ENGLISH if translate.korean_path(p).exists()]
EXPECTED = {
    "BACKEND": (config.BACKEND_ENV, config.DEFAULT_BACKEND),
    "NAMESPACE": (config.NAMESPACE_ENV, config.DEFAULT_NAMESPACE),
}


def ids(path: Path) -> str:
    return str(path.relative_to(config.PROJECT_ROOT))


def parameters_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cell.source


def environ_reads(source: str) -> dict[str, tuple[str, str]]:
    """NAME = os.environ.get("VAR", "default") assignments of a cell: NAME -> (VAR, default)."""
    found = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        call = node.value
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "os.environ.get" and len(call.args) == 2:
            found[node.targets[0].id] = tuple(ast.literal_eval(a) for a in call.args)
    return found


def test_the_variables_follow_the_language_variable():
    """One family of names for what a learner or an instructor sets: TUTORIAL_LANG, TUTORIAL_BACKEND, ..."""
    assert config.BACKEND_ENV == "TUTORIAL_BACKEND" and config.NAMESPACE_ENV == "TUTORIAL_NAMESPACE"
    assert config.DEFAULT_BACKEND in config.BACKENDS


@pytest.mark.parametrize("path", EDITIONS, ids=ids)
def test_every_parameters_cell_reads_the_workshop_setting(path):
    source = parameters_cell(path)
    assert environ_reads(source) == EXPECTED
    assert "import os" in source.splitlines()
    backend_line = next(line for line in source.splitlines() if line.startswith("BACKEND ="))
    comment = backend_line.partition("#")[2]
    missing = [b for b in config.BACKENDS if f'"{b}"' not in comment]
    assert not missing, f"the BACKEND comment does not name {missing}: {backend_line}"
    assert all(len(line) <= 120 for line in source.splitlines())


def test_both_editions_are_checked():
    assert len(EDITIONS) == 2 * len(ENGLISH), "every lesson and lab has its Korean edition"


@pytest.mark.parametrize("path", EDITIONS, ids=ids)
def test_the_value_reaches_the_notebook(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a Korean cell calls use_english_folder(): nothing to change here
    source = parameters_cell(path)
    monkeypatch.setenv(config.BACKEND_ENV, "host")
    monkeypatch.setenv(config.NAMESPACE_ENV, "learner-07")
    values: dict = {}
    exec(source, values)  # noqa: S102 - the notebook's own parameters cell
    assert (values["BACKEND"], values["NAMESPACE"]) == ("host", "learner-07")
    monkeypatch.delenv(config.BACKEND_ENV)
    monkeypatch.delenv(config.NAMESPACE_ENV)
    values = {}
    exec(source, values)  # noqa: S102
    assert (values["BACKEND"], values["NAMESPACE"]) == (config.DEFAULT_BACKEND, config.DEFAULT_NAMESPACE)


def test_the_helpers_follow_the_same_setting(monkeypatch):
    monkeypatch.delenv(config.BACKEND_ENV, raising=False)
    monkeypatch.delenv(config.NAMESPACE_ENV, raising=False)
    assert (config.workshop_backend(), config.workshop_namespace()) == ("local", "rayservice-tutorial")
    monkeypatch.setenv(config.BACKEND_ENV, "kind")
    monkeypatch.setenv(config.NAMESPACE_ENV, "learner-07")
    assert (config.workshop_backend(), config.workshop_namespace()) == ("kind", "learner-07")


def make_n(*args: str, env: dict[str, str] | None = None) -> str:
    """What `make` would run (-n: nothing is run; the virtual environment's recipe is only printed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    base = {k: v for k, v in os.environ.items() if k not in (config.BACKEND_ENV, "BACKEND")}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=config.PROJECT_ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_follows_the_workshop_backend_unless_told_otherwise():
    assert "helpers run --backend local" in make_n("run")
    assert "helpers run --backend host" in make_n("run", env={config.BACKEND_ENV: "host"})
    assert "helpers down --backend host" in make_n("down", env={config.BACKEND_ENV: "host"})
    assert "helpers run --backend kind" in make_n("run", "BACKEND=kind", env={config.BACKEND_ENV: "host"})


def test_what_is_recorded_for_the_repository_ignores_the_setting(monkeypatch):
    """`make notebooks` and `make transcripts` record the default namespace, whatever this terminal was set up for."""
    monkeypatch.setenv(config.BACKEND_ENV, "host")
    monkeypatch.setenv(config.NAMESPACE_ENV, "learner-07")
    runner.without_workshop_setting()
    assert config.BACKEND_ENV not in os.environ and config.NAMESPACE_ENV not in os.environ


# -- make lab: the project's JupyterLab settings -------------------------------------------------------------------
NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def test_make_lab_uses_the_project_settings():
    (line,) = [line for line in make_n("lab").replace("\\\n", " ").splitlines() if "/jupyter lab " in line]
    assert "--ip=127.0.0.1" in line
    (arg,) = [a for a in line.split() if a.startswith("--LabApp.app_settings_dir=")]
    assert Path(arg.partition("=")[2].strip('"')) == config.LAB_SETTINGS_DIR


def test_the_project_settings_turn_the_news_off():
    overrides = json.loads((config.LAB_SETTINGS_DIR / "overrides.json").read_text())
    assert overrides[NOTIFICATION]["fetchNews"] == "false"  # "none" asks; "false" is the schema's "Never"
    # Written against the installed JupyterLab's own schema: a renamed plugin or setting would be ignored silently.
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    for plugin, values in overrides.items():
        package, _, name = plugin.partition(":")
        schema_file = schemas / package / f"{name}.json"
        if not schema_file.exists():
            pytest.skip(f"JupyterLab's schemas are not installed in {sys.prefix}")
        properties = json.loads(schema_file.read_text())["properties"]
        for key, value in values.items():
            assert key in properties, f"{plugin} has no setting {key!r}"
            allowed = [choice["const"] for choice in properties[key].get("oneOf", [])]
            assert not allowed or value in allowed, (key, value, allowed)
