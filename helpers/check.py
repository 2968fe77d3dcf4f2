"""One check of preflight (is this machine ready for the chosen backend?), as every backend's checks report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str  # what was found, and when not ok how to fix it
    warning: bool = False  # ok, but worth a look (shown with ⚠)
