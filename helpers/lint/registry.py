"""The rule registry and the one way a finding is worded.

A rule is a generator registered with ``@rule(id, N_(summary))``: it gets the ``Context`` and yields messages.
``problem()`` words a message the same way for every rule (where, what is wrong, did-you-mean, what to
write instead), so a new rule is a few lines: find the mistake, say it with ``problem()``.

Every word a learner reads is an English template translated with ``helpers.i18n._()`` where it is written, in
the learner's language at the time the rule runs; each piece a message quotes (what is wrong, what to write, the
reason) is translated where it is made, so ``problem()`` only joins translated pieces. A rule's summary is kept
as an ``N_()`` template and translated when ``--rules`` shows it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers.i18n import _

CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")
SECRET_NAME = re.compile(r"(ACCESS_KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    severity: str = "error"  # or "warning": reported, but the manifest still applies

    def __str__(self) -> str:  # the message is already in the learner's language; the severity word is made here
        return f"{severity_word(self.severity)} [{self.rule}] {self.message}"


def severity_word(severity: str) -> str:
    """A severity as the learner reads it: ``Finding.severity`` stays "error" or "warning", the key code compares."""
    return _("error") if severity == "error" else _("warning")


@dataclass
class Context:
    """What the rules look at: the raw manifest and, once it parses, its Serve config.

    Earlier rules leave what they learned here for later ones: the parsed Serve config, whether it and
    the cluster are sound (the placement rules only reason about a sound manifest), the placement.
    """

    raw: dict[str, Any]
    spec: dict[str, Any]
    serve_config: dict[str, Any] | None = None  # parsed serveConfigV2, when it is a valid YAML string
    serve_ok: bool = False  # serve_config also passed Ray's schema
    schema_errors: list[tuple] = field(default_factory=list)  # where the CRD schema was violated (crd-schema)
    cluster_ok: bool = False
    placement: Any = None  # helpers.lint.placement.Placement, computed once for the replica rules

    @property
    def cluster(self) -> dict[str, Any]:
        cluster = self.spec.get("rayClusterConfig")
        return cluster if isinstance(cluster, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        metadata = self.raw.get("metadata")
        found = metadata.get("annotations") if isinstance(metadata, dict) else None
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str  # an English template (marked N_() where the rule is registered), filled in with ``values``
    check: Callable[[Context], Iterable[str]]
    severity: str = "error"
    values: dict[str, Any] = field(default_factory=dict, hash=False)  # the summary's placeholders

    def summary_text(self) -> str:
        """The summary in the learner's language, as ``python -m helpers lint --rules`` lists it."""
        return _(self.summary, **self.values)


RULES: list[Rule] = []


def rule(rule_id: str, summary: str, severity: str = "error", **values: Any):
    """Registers a rule; ``summary`` is an ``N_()`` template, ``values`` its placeholders (looked up later)."""

    def register(check: Callable[[Context], Iterable[str]]):
        RULES.append(Rule(rule_id, summary, check, severity, values))
        return check

    return register


# -- the one formatter -------------------------------------------------------------------------------


def problem(where: str, wrong: str, write: str | None = None, *, guess: str | None = None, why: str = "") -> str:
    """``where: what is wrong (why); did you mean `guess`? write what to write``: every part but the first two
    optional. ``write`` is what the learner types instead, e.g. ``"minReplicas: 1"``. ``wrong``, ``why`` and
    ``write`` come translated (each made with ``_()`` by the rule); the words joining them are translated here."""
    text = f"{where}: {wrong}" if where else wrong
    if why:
        text += f" ({why})"
    if guess:
        text += _("; did you mean `{guess}`?", guess=guess)
    if write:
        text += _("; write {write}", write=write)
    return text


def rejected_by_kuberay() -> str:
    """The reason of every finding of KubeRay's own validation (utils/validation.go), for ``problem(why=...)``."""
    return _("KubeRay v1.7.0 rejects the RayService")


def did_you_mean(key: Any, known: Iterable[str]) -> str | None:
    known = [k for k in known if isinstance(k, str)]
    if not isinstance(key, str):
        return None
    for k in known:
        if k.lower() == key.lower():
            return k
    for guess in (key, snake(key)):
        close = difflib.get_close_matches(guess, known, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def flow(value: Any) -> str:
    """A value as it would be written in YAML on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def known_list(names: Iterable[str], limit: int = 30) -> str:
    names = sorted(names)
    more = _(" (and {count} more)", count=len(names) - limit) if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def path_of(loc: Iterable[Any]) -> str:
    """['spec', 'workerGroupSpecs', 0, 'replicas'] -> 'spec.workerGroupSpecs[0].replicas'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
