"""The manifest linter: one rule per RayService mistake, each message saying what to write instead.

``lint(raw)`` returns every finding; ``helpers.manifests.validate`` refuses a manifest with an
error-level finding, and ``python -m helpers lint FILE...`` prints them (exit code 1 on an error).
The rules come from the schemas the manifest must pass, checked before apply:

- ``schema``: the whole RayService against KubeRay v1.7.0's CRD schema, as the API server applies it;
- ``serve``: spec.serveConfigV2 with Ray Serve's own models, the nested configs Serve checks at deploy too;
- ``metadata``, ``kuberay``, ``cluster``: KubeRay's own validation (utils/validation.go) and what Ray accepts;
- ``replicas`` (with the search in ``placement``): every replica gets its CPUs on one node.

``registry`` holds the rule list and ``problem()``, the one way a finding is worded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers import i18n
from helpers.lint import cluster, kuberay, metadata, replicas, schema, serve
from helpers.lint.cluster import FIRST_FIXED_RAY
from helpers.lint.groups import containers, image_ray_version, num_cpus, worker_replicas
from helpers.lint.metadata import API_VERSION, MAX_NAME_LENGTH
from helpers.lint.placement import UNIT, NodeGroup, Placement, Replicas
from helpers.lint.registry import RULES, Context, Finding, Rule, problem, rule

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
    "worker_replicas",
]


def parse(text: str) -> tuple[Any, list[Finding]]:
    """YAML text -> (object, findings); a syntax error is a finding with its line and column."""
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [
            Finding("yaml-syntax", f"YAML syntax error{where}: {problem}. Check the indentation and quoting there.")
        ]


def check(raw: Any) -> tuple[list[Finding], Context | None]:
    """Run every rule on a parsed manifest; returns the findings and the context the rules built."""
    if not isinstance(raw, dict):
        return [
            Finding("structure", "the document is not a mapping: a RayService starts with apiVersion: ray.io/v1")
        ], None
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        findings = _run(Context(raw, {}), only=("api-version", "kind", "name", "name-length"))
        missing = "spec is missing: a RayService needs spec.serveConfigV2 and spec.rayClusterConfig"
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
        """The report, in the learner's language (helpers.i18n): English as written here, or Korean."""
        tr = i18n.tr
        if not self.findings:
            return tr(f"{self.path}: ok ({len(RULES)} rules)")
        lines = [tr(f"{self.path}: {len(self.errors)} error(s), {len(self.findings) - len(self.errors)} warning(s)")]
        for f in self.findings:
            body = tr(f.message).replace("\n", "\n      ")
            lines.append(f"  {tr(f.severity)} [{f.rule}] {body}")
        return "\n".join(lines)


def lint_files(paths: Iterable[str]) -> list[FileReport]:
    from pathlib import Path

    reports = []
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            reports.append(FileReport(path, [Finding("file", f"cannot read {path}: {exc.strerror}")]))
            continue
        reports.append(FileReport(path, lint_text(text)))
    return reports
