"""The state folder's small files and per-process folders."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import statefile


def test_a_torn_state_file_reads_as_none_and_a_write_is_whole(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"cut short')
    assert statefile.read(path) is None
    statefile.write(path, {"a": 1})
    assert statefile.read(path) == {"a": 1} and not list(tmp_path.glob("*.tmp"))


def test_a_process_folder_goes_with_its_process_and_a_killed_ones_with_the_next(tmp_path, monkeypatch):
    """The dynamic client's discovery caches lived in /tmp and stayed there from every kernel nbval killed."""
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_STATE", str(tmp_path))
    ask = "from helpers import statefile; print(statefile.process_folder('discovery'))"
    child = subprocess.run([sys.executable, "-c", ask], capture_output=True, text=True, check=True, cwd=os.getcwd())
    assert child.stdout.strip().startswith(str(tmp_path / "discovery"))
    assert list((tmp_path / "discovery").iterdir()) == []  # removed when it exited
    killed = tmp_path / "discovery" / "999999999"  # no such process: a kernel killed before its exit handler
    killed.mkdir()
    statefile.process_folder.cache_clear()
    own = statefile.process_folder("discovery")
    assert own == tmp_path / "discovery" / str(os.getpid()) and own.is_dir()
    assert not killed.exists()
    statefile.process_folder.cache_clear()
