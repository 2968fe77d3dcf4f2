"""Small JSON state files (a backend's cluster state, the labs' results): read forgivingly, write atomically."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import psutil

from helpers import config


def read(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None if it is missing or unreadable (e.g. cut short by a crash)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, data: dict[str, Any]) -> None:
    """Write to a temp file, then rename: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)


@functools.cache
def process_folder(kind: str) -> Path:
    """This process's own folder ``<state>/<kind>/<pid>``: removed when it exits, and a folder whose process is gone
    (a killed kernel's: no exit handler ran) by the next process that asks. Never in /tmp, never left behind."""
    parent = config.state_dir() / kind
    for old in parent.glob("*"):
        if not (old.name.isdigit() and psutil.pid_exists(int(old.name))):
            shutil.rmtree(old, ignore_errors=True)
    folder = parent / str(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, folder, True)
    return folder
