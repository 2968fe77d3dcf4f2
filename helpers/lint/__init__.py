"""The manifest linter: one rule per RayService mistake, each message saying what to write instead.

``lint(raw)`` returns every finding; ``helpers.manifests.validate`` refuses a manifest with an
error-level finding, and ``python -m helpers lint FILE...`` prints them (exit code 1 on an error).
The rules come from the schemas the manifest must pass, checked before apply:

- ``schema``: the whole RayService against KubeRay v1.7.0's CRD schema, as the API server applies it;
- ``serve``: spec.serveConfigV2 with Ray Serve's own models, the nested configs Serve checks at deploy too;
- ``metadata``, ``kuberay``, ``cluster``: KubeRay's own validation (utils/validation.go) and what Ray accepts;
- ``replicas`` (with the search in ``placement``): every replica gets its CPUs on one node.

``registry`` holds the rule list and ``problem()``, the one way a finding is worded. Every finding is made in
the learner's language (``helpers.i18n._()``: English, or Korean with ``TUTORIAL_LANG=ko``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers.i18n import _
from helpers.lint import cluster, kuberay, metadata, replicas, schema, serve
from helpers.lint.cluster import FIRST_FIXED_RAY
from helpers.lint.groups import containers, image_ray_version, num_cpus, worker_replicas
from helpers.lint.metadata import API_VERSION, MAX_NAME_LENGTH
from helpers.lint.placement import UNIT, NodeGroup, Placement, Replicas
from helpers.lint.registry import RULES, Context, Finding, Rule, problem, rule, severity_word

# The rule modules register their rules on import; they run (and --rules lists them) in this order: the
# header, the Serve config, the schema, then what KubeRay checks, then the replicas, which need all the rest.
RULE_MODULES = (metadata, serve, schema, cluster, kuberay, replicas)
RULES[:] = [r for module in RULE_MODULES for r in RULES if r.check.__module__ == module.__name__]

__all__ = [
    "API_VERSION",
    "FIRST_FIXED_RAY",
    "MAX_NAME_LENGTH",
    "RULES",
    "UNIT",
    "Context",
    "FileReport",
    "Finding",
    "NodeGroup",
    "Placement",
    "Replicas",
    "Rule",
    "check",
    "containers",
    "image_ray_version",
    "lint",
    "lint_files",
    "lint_text",
    "num_cpus",
    "parse",
    "problem",
    "rule",
    "severity_word",
    "worker_replicas",
]


def parse(text: str) -> tuple[Any, list[Finding]]:
    """YAML text -> (object, findings); a syntax error is a finding with its line and column."""
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)  # PyYAML's own words, as it prints them
        if mark:
            message = _(
                "YAML syntax error at line {line}, column {column}: {problem}. Check the indentation and quoting "
                "there.",
                line=mark.line + 1,
                column=mark.column + 1,
                problem=problem,
            )
        else:
            message = _("YAML syntax error: {problem}. Check the indentation and quoting there.", problem=problem)
        return None, [Finding("yaml-syntax", message)]


def check(raw: Any) -> tuple[list[Finding], Context | None]:
    """Run every rule on a parsed manifest; returns the findings and the context the rules built."""
    if not isinstance(raw, dict):
        not_a_mapping = _("the document is not a mapping: a RayService starts with apiVersion: ray.io/v1")
        return [Finding("structure", not_a_mapping)], None
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        findings = _run(Context(raw, {}), only=("api-version", "kind", "name", "name-length"))
        missing = _("spec is missing: a RayService needs spec.serveConfigV2 and spec.rayClusterConfig")
        return findings + [Finding("structure", missing)], None
    ctx = Context(raw, spec)
    return _run(ctx), ctx


def lint(raw: Any) -> list[Finding]:
    return check(raw)[0]


def lint_text(text: str) -> list[Finding]:
    raw, findings = parse(text)
    return findings or lint(raw)


def _run(ctx: Context, only: tuple[str, ...] | None = None) -> list[Finding]:
    findings = []
    for r in RULES:
        if only is None or r.id in only:
            findings += [Finding(r.id, message, r.severity) for message in r.check(ctx)]
    return findings


@dataclass
class FileReport:
    """The findings for one file, as the command line prints them."""

    path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def render(self) -> str:
        """The report in the learner's language (the findings were made in it, the lines around them here)."""
        if not self.findings:
            return _("{path}: ok ({count} rules)", path=self.path, count=len(RULES))
        errors, warnings = len(self.errors), len(self.findings) - len(self.errors)
        counts = _("{path}: {errors} error(s), {warnings} warning(s)", path=self.path, errors=errors, warnings=warnings)
        lines = [counts]
        for f in self.findings:
            body = f.message.replace("\n", "\n      ")
            lines.append(f"  {severity_word(f.severity)} [{f.rule}] {body}")
        return "\n".join(lines)


def lint_files(paths: Iterable[str]) -> list[FileReport]:
    from pathlib import Path

    reports = []
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            unreadable = _("cannot read {path}: {error}", path=path, error=exc.strerror)  # the OS's own words
            reports.append(FileReport(path, [Finding("file", unreadable)]))
            continue
        reports.append(FileReport(path, lint_text(text)))
    return reports
