"""The learner's answer files: where each lab keeps the file the learner edits, and its starting content.

The labs (labs/*.ipynb) keep the learner's answer in a YAML file under ``labs/answers/`` (override:
RAYSERVICE_TUTORIAL_LABS_ANSWERS). ``start(lab)`` writes the starting file once and keeps it afterwards, so
re-running the lab's first cell never loses an edit. This module only makes and finds the files; grading them
is ``helpers.checks``, which re-exports these names (``checks.start("lab01")`` in the labs).
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers import config
from helpers.i18n import _

LABS_DIR = config.PROJECT_ROOT / "labs"
BASELINE = config.MANIFESTS_DIR / "ray-service.yaml"
LAB02_START_FROM = config.MANIFESTS_DIR / "ray-service-multi.yaml"
# The learner's answer file for each lab, in labs/answers/ (labs/solutions/labNN.yaml solves it).
ANSWER_FILES = {
    "lab01": "lab01-ray-service.yaml",
    "lab02": "lab02-ray-service.yaml",
    "lab03": "lab03-answer.yaml",
    "lab04": "lab04-ray-service.yaml",
    "lab05": "lab05-by-hand.sh",  # with lab05-ray-service.yaml beside it (helpers.lab05_by_hand.start)
    "lab07": "lab07-diagnosis.yaml",  # with lab07-ray-service.yaml beside it (helpers.lab07_debugging.start)
}
LAB03_START = """\
# Lab 03: your choices for `hello`. Edit the three values, save the file, run the check.
num_replicas: 1              # how many replicas of hello (1 to 6)
max_replicas_per_node: null  # null: Serve places them where it likes; a number: at most that many on one node
client_retries: false        # do the clients retry a failed request (with backoff)? true or false
"""


def answers_dir() -> Path:
    path = Path(os.environ.get("RAYSERVICE_TUTORIAL_LABS_ANSWERS", LABS_DIR / "answers")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def answer_file(lab: str) -> Path:
    if lab not in ANSWER_FILES:
        raise ValueError(f"unknown lab {lab!r}: choose one of {', '.join(ANSWER_FILES)}")
    return answers_dir() / ANSWER_FILES[lab]


def start(lab: str, reset: bool = False) -> Path:
    """Copy the lab's starting file into labs/answers/ (kept if it exists, so re-running keeps your edits)."""
    path = answer_file(lab)
    if path.exists() and not reset:
        print(_("Your file: {path} (kept; start(..., reset=True) starts over)", path=shown(path)))
        return path
    if lab == "lab01":
        text = (LABS_DIR / "broken" / "article-ray-service.yaml").read_text()
    elif lab == "lab02":
        text = two_app_manifest_text()
    elif lab == "lab04":
        text = BASELINE.read_text()
    elif lab == "lab03":
        text = LAB03_START
    else:  # labs 05 and 07 have two files (helpers.lab05_by_hand.start, helpers.lab07_debugging.start)
        raise ValueError(f"{lab} starts with checks.{lab}_start()")
    path.write_text(text)
    print(_("Your file: {path} (open it in JupyterLab's file browser and edit it)", path=shown(path)))
    return path


def two_app_manifest_text() -> str:
    """manifests/ray-service-multi.yaml without its third application, predict-b."""
    lines = LAB02_START_FROM.read_text().splitlines()
    first = lines.index("      - name: predict-b")
    end = next(
        (
            i
            for i in range(first + 1, len(lines))
            if lines[i].startswith("      - name:") or not lines[i].startswith(" " * 6)
        ),
        len(lines),
    )
    body = [line for line in lines[:first] + lines[end:] if not line.startswith("#")]
    header = ["# Lab 02: two applications, /hello and /predict-a. Add a third one at a route prefix of its own."]
    return "\n".join(header + body) + "\n"


def no_file(path: Path) -> str:
    """What to do when the answer file is not there yet."""
    return _("{path} does not exist yet: run the lab's first cell (start) to create it.", path=shown(path))


def shown(path: Path) -> str:
    """The path from the project root when it is inside the project (what the learner sees in JupyterLab)."""
    try:
        return str(path.relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


def hello_of(serve_config: dict) -> tuple[dict, dict]:
    """(the hello application, its Hello deployment) from a serveConfigV2 dict ({} when absent): the labs' app."""
    app = next((a for a in serve_config.get("applications") or [] if a.get("name") == "hello"), {})
    deployment = next((d for d in app.get("deployments") or [] if d.get("name") == "Hello"), {})
    return app, deployment
