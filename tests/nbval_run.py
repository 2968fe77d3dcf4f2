"""nbval in a subprocess, as the notebook tests run it (local, kind, host): new kernels, lax mode, a sanitizer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import config, runner


def nbval(
    *paths: Path, sanitize: Path, cwd: Path = config.NOTEBOOKS_DIR, rerun: bool = False
) -> subprocess.CompletedProcess:
    """``rerun``: a notebook listed twice runs twice (pytest drops duplicates otherwise)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            *(["--keep-duplicates"] if rerun else []),
            "--nbval-lax",
            f"--nbval-kernel-name={runner.KERNEL}",
            f"--nbval-sanitize-with={sanitize}",
            *map(str, paths),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
