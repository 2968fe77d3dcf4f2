"""What the lessons' "On Kubernetes" commands printed on a real cluster, shown to learners on the local backend.

The local backend has no Kubernetes: for each ``kubectl`` step it prints the command and what it does instead.
Under that, it now shows what the same command printed on the host backend's cluster in a recorded run of the
same lesson (collapsed in JupyterLab, indented text when run headless), stamped with the day and the
Kubernetes, KubeRay and Ray versions.

Recording (``make transcripts``): the lessons run on the host backend with ``RAYSERVICE_RECORD_TRANSCRIPTS`` naming
a file; every command ``on_kubernetes`` runs is appended there with its output and the lesson (``RAYSERVICE_LESSON``,
set by the runner). ``build()`` then writes ``helpers/data/transcripts.json``, with the hash of every manifest the
lessons read: tests/unit/test_transcripts.py fails when a manifest changed after the recording.

Playback finds the lesson from ``RAYSERVICE_LESSON`` (the runner, the tests) or ``JPY_SESSION_NAME`` (the notebook
JupyterLab opened), and the n-th recorded output of the command for its n-th run in this kernel.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from helpers import config
from helpers.board import headless

DATA = Path(__file__).with_name("data") / "transcripts.json"
RECORD_ENV = "RAYSERVICE_RECORD_TRANSCRIPTS"
LESSON_ENV = "RAYSERVICE_LESSON"
MANIFESTS = ("*.yaml", "apps/*.py", "redis/*.yaml")  # under manifests/: what the lessons apply

_played: Counter = Counter()


def lesson() -> str | None:
    name = os.environ.get(LESSON_ENV) or os.environ.get("JPY_SESSION_NAME")
    return Path(name).stem if name else None


def normalized(args: tuple[str, ...] | list[str]) -> str:
    """The command as a learner types it on any cluster: without the host backend's ``--context``."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--context":
            skip = True
            continue
        out.append(arg)
    return shlex.join(out)


def record(args: tuple[str, ...], output: str) -> None:
    """Append one command and its output to the recording named by ``RAYSERVICE_RECORD_TRANSCRIPTS`` (if any)."""
    target = os.environ.get(RECORD_ENV)
    if not target:
        return
    line = {"lesson": lesson(), "command": normalized(args), "output": output}
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def manifest_hashes() -> dict[str, str]:
    root = config.MANIFESTS_DIR
    files = sorted({p for pattern in MANIFESTS for p in root.glob(pattern)})
    return {str(p.relative_to(config.PROJECT_ROOT)): content_hash(p) for p in files}


def content_hash(path: Path) -> str:
    """What the cluster gets from a file: a YAML file's documents (its comments and layout change nothing a command
    prints), any other file's bytes."""
    data = path.read_bytes()
    if path.suffix == ".yaml":
        documents = list(yaml.safe_load_all(data.decode("utf-8")))
        data = json.dumps(documents, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def build(recording: Path, versions: dict[str, str], keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """helpers/data/transcripts.json from a recording: each lesson's commands in the order they ran. ``keep``: an
    earlier recording of the same manifests and versions whose other lessons stay (``--only``)."""
    if keep is not None and keep.get("versions") != versions:
        raise ValueError(f"the recording kept was made on {keep.get('versions')}, not {versions}: record every lesson")
    lessons: dict[str, list[dict[str, str]]] = {}
    for raw in recording.read_text(encoding="utf-8").splitlines():
        entry = json.loads(raw)
        if entry["lesson"]:
            lessons.setdefault(entry["lesson"], []).append({"command": entry["command"], "output": entry["output"]})
    data = {
        "recorded": time.strftime("%Y-%m-%d"),
        "versions": versions,
        "manifests": manifest_hashes(),
        "lessons": {**(keep or {}).get("lessons", {}), **lessons},
    }
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def load() -> dict[str, Any] | None:
    return json.loads(DATA.read_text(encoding="utf-8")) if DATA.exists() else None


def stale_manifests(data: dict[str, Any] | None = None) -> list[str]:
    """The manifests that changed (or appeared, or went) since the recording."""
    data = data if data is not None else load() or {}
    now, then = manifest_hashes(), data.get("manifests", {})
    return sorted(path for path in set(now) | set(then) if now.get(path) != then.get(path))


def recorded(args: tuple[str, ...]) -> str | None:
    """What this command printed on the host cluster at the same point of the same lesson (None: not recorded)."""
    data = load()
    if not data:
        return None
    command, name = normalized(args), lesson()
    runs = [e["output"] for e in data["lessons"].get(name or "", []) if e["command"] == command]
    if not runs:  # a lesson we cannot name, or a command this lesson did not run: the first lesson that ran it
        runs = [e["output"] for entries in data["lessons"].values() for e in entries if e["command"] == command]
    if not runs:
        return None
    seen = _played[(name, command)]
    _played[(name, command)] += 1
    return runs[min(seen, len(runs) - 1)]


def stamp(data: dict[str, Any]) -> str:
    v = data["versions"]
    return f"recorded {data['recorded']}: Kubernetes {v['kubernetes']}, KubeRay {v['kuberay']}, Ray {v['ray']}"


# kubectl diff compares two folders it makes in this machine's temp dir, named at random for each run.
_KUBECTL_DIFF_DIRS = re.compile(r"/tmp/(LIVE|MERGED)-\d+/")


def shown(output: str) -> str:
    """``output`` as a learner reads it: kubectl diff's temporary folders as LIVE/ and MERGED/ (their random
    names and this machine's temp dir say nothing)."""
    return _KUBECTL_DIFF_DIRS.sub(r"\1/", output)


def show(args: tuple[str, ...]) -> None:
    """Under a command the local backend shows: what it printed on the host cluster, collapsed in a notebook."""
    output = recorded(args)
    if output is None:
        return
    output = shown(output)
    title = f"What it printed on the host backend's Kubernetes ({stamp(load())})"
    if headless():
        print(f"{title}:")
        print("\n".join(f"  {line}" for line in (output or "(nothing)").splitlines()))
        return
    from IPython.display import HTML, display

    display(HTML(f"<details><summary>{html.escape(title)}</summary><pre>{html.escape(output)}</pre></details>"))
