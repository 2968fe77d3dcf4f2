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
    "lab05": N_("By hand: deploy, lose a worker, update and clean up with kubectl and curl"),
    "lab07": N_("Three hidden faults: name each cause, then fix them"),
}


class LabCheckFailed(AssertionError):
    """Raised by CheckResult.require(): the check did not pass (strict mode, used by CI)."""


@dataclass
class CheckResult:
    lab: str
    passed: bool
    hint: str = ""  # the one thing to fix next, when not passed
    details: list[str] = field(default_factory=list)  # what was checked or measured
    step: str = ""  # a lab graded step by step (lab 05): this step
    final: bool = True  # the lab's last step: its pass is the lab's pass
    skipped: bool = False  # nothing to grade on this backend (lab 05 on local): the details say what it would check

    def __str__(self) -> str:
        # The hint and the details are in the learner's language already: each was translated where it was made.
        if self.skipped:
            head = _(
                "⏭ {lab}, step {step}, needs Kubernetes (host or kind). On a cluster it checks:",
                lab=self.lab,
                step=self.step,
            )
        elif self.step and not (self.passed and self.final):
            done = _("passed") if self.passed else _("not yet. Hint: {hint}", hint=self.hint)
            head = f"{'✅' if self.passed else '❌'} {self.lab}, {_('step {step}', step=self.step)}: {done}"
        elif self.passed:
            head = _("✅ {lab} passed: {title}", lab=self.lab, title=_(LABS[self.lab]))
        else:
            head = _("❌ {lab} not yet. Hint: {hint}", lab=self.lab, hint=self.hint)
        return "\n".join([head, *(f"   · {d}" for d in self.details)])

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows str(), not the dataclass repr
        printer.text(str(self))

    def require(self) -> CheckResult:
        if not self.passed and not self.skipped:
            raise LabCheckFailed(str(self))
        return self

    def save(self) -> CheckResult:
        """Record the result in labs/answers/results.json (what `python -m helpers grade --status` shows)."""
        path = answers_dir() / "results.json"
        results = read_json(path)
        results[self.lab] = {
            "passed": self.passed and self.final,
            "hint": self.hint if not self.passed else _("step {step} passed", step=self.step) if self.step else "",
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        statefile.write(path, results)
        return self


def fail(lab: str, hint: str, details: list[str] | None = None, step: str = "", final: bool = True) -> CheckResult:
    return CheckResult(lab, False, hint, details or [], step, final).save()


def succeed(lab: str, details: list[str], step: str = "", final: bool = True) -> CheckResult:
    return CheckResult(lab, True, "", details, step, final).save()


def read_json(path: Path) -> dict[str, Any]:
    return statefile.read(path) or {}


def saved_results() -> dict[str, Any]:
    return read_json(answers_dir() / "results.json")
