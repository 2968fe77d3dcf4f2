"""The real command runner: clear errors, and a status line while long commands run."""

import sys

import pytest

from helpers.backends.commands import Commands, ToolMissing
from helpers.errors import BackendError


def test_missing_tool_names_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no helm anywhere
    with pytest.raises(ToolMissing, match="`helm` is not installed or not on PATH: install Helm 3"):
        Commands().run(["helm", "version"])


def test_failure_shows_the_command_and_its_stderr():
    with pytest.raises(BackendError, match=r"failed \(exit code 3\):\nboom"):
        Commands().run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])


def test_progress_line_while_a_long_command_runs(capsys):
    result = Commands().run(
        [sys.executable, "-c", "import time; time.sleep(1.5); print('done')"], progress="a slow step"
    )
    assert result.ok and result.stdout.strip() == "done"
    err = capsys.readouterr().err
    assert "⏳ a slow step" in err and "✅ a slow step" in err


def test_timeout_kills_the_command():
    with pytest.raises(TimeoutError, match="Waited 1 s for a stuck step"):
        Commands().run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1, progress="a stuck step")
