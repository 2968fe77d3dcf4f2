"""A lab check's result: passed, or the one hint to follow next, and what was checked; kept in
labs/answers/results.json so `python -m helpers grade --status` shows each lab's last result.

The hint and the details are written in the learner's language by the check that makes them (helpers.i18n), so
this module only adds the head line (passed / not yet) in the same language.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import statefile
from helpers.i18n import N_, _
from helpers.lab_files import answers_dir

LABS = {  # English; shown with _(LABS[lab])
    "lab01": N_("Fix the article's manifest"),
    "lab02": N_("A third application at its own route prefix"),
    "lab03": N_("Two replicas serving through every fault of a chaos round"),
    "lab04": N_("Ship what can go out now without restarting a replica"),
}


class LabCheckFailed(AssertionError):
    """Raised by CheckResult.require(): the check did not pass (strict mode, used by CI)."""


@dataclass
class CheckResult:
    lab: str
    passed: bool
    hint: str = ""  # the one thing to fix next, when not passed
    details: list[str] = field(default_factory=list)  # what was checked or measured

    def __str__(self) -> str:
        # The hint and the details are in the learner's language already: each was translated where it was made.
        if self.passed:
            head = _("✅ {lab} passed: {title}", lab=self.lab, title=_(LABS[self.lab]))
        else:
            head = _("❌ {lab} not yet. Hint: {hint}", lab=self.lab, hint=self.hint)
        return "\n".join([head, *(f"   · {d}" for d in self.details)])

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows str(), not the dataclass repr
        printer.text(str(self))

    def require(self) -> CheckResult:
        if not self.passed:
            raise LabCheckFailed(str(self))
        return self

    def save(self) -> CheckResult:
        """Record the result in labs/answers/results.json (what `python -m helpers grade --status` shows)."""
        path = answers_dir() / "results.json"
        results = read_json(path)
        results[self.lab] = {"passed": self.passed, "hint": self.hint, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        statefile.write(path, results)
        return self


def fail(lab: str, hint: str, details: list[str] | None = None) -> CheckResult:
    return CheckResult(lab, False, hint, details or []).save()


def succeed(lab: str, details: list[str]) -> CheckResult:
    return CheckResult(lab, True, "", details).save()


def read_json(path: Path) -> dict[str, Any]:
    return statefile.read(path) or {}


def saved_results() -> dict[str, Any]:
    return read_json(answers_dir() / "results.json")
