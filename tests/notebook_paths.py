"""No path of the machine that recorded a notebook in it: one rule for the lessons' policy tests."""

from __future__ import annotations

import json
from typing import Any

# Paths inside the rayproject/ray image are not this machine's: its home (in the manifests) and Ray's temp dir in
# its containers (in the host cluster's recorded transcripts).
IMAGE_PATHS = ("/home/ray/", "/tmp/ray/")
MACHINE_PATHS = ("/work/", "/root/", "/home/", "/tmp/")


def machine_paths(nb: Any) -> list[str]:
    """The machine-specific path prefixes found anywhere in notebook ``nb`` (its JSON)."""
    text = json.dumps(nb)
    for allowed in IMAGE_PATHS:
        text = text.replace(allowed, "")
    return [prefix for prefix in MACHINE_PATHS if prefix in text]
