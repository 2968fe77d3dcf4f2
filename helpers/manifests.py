"""Load and validate RayService manifests.

``spec.serveConfigV2`` is validated with Ray Serve's own config schema
(``ray.serve.schema.ServeDeploySchema``), so the rules are Ray's, not a copy of them.
Every problem found is reported at once, each with what to write instead.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers import config
from helpers.errors import ShownAsMessage
from helpers.lint import API_VERSION, MAX_NAME_LENGTH, Finding, check, parse, worker_replicas
from helpers.lint import containers as _containers
from helpers.lint import num_cpus as _num_cpus

__all__ = ["API_VERSION", "MAX_NAME_LENGTH", "ManifestError", "RayServiceManifest", "diff", "load_manifest", "validate"]


class ManifestError(ShownAsMessage, ValueError):
    """A manifest that KubeRay or Ray Serve would reject; ``problems`` lists each mistake."""

    def __init__(self, source: str, problems: list[str], findings: list[Finding] | None = None):
        self.source = source
        self.problems = problems
        self.findings = findings or [Finding("manifest", p) for p in problems]
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} is not a valid RayService manifest:\n{lines}")


@dataclass(frozen=True)
class WorkerGroup:
    name: str
    replicas: int
    num_cpus: float


@dataclass
class RayServiceManifest:
    """A validated RayService: the raw object plus the parsed Serve config."""

    raw: dict[str, Any]
    serve_config: dict[str, Any]
    source: str = "<manifest>"
    warnings: list[Finding] = field(default_factory=list)  # lint findings that do not block an apply

    @property
    def name(self) -> str:
        return self.raw["metadata"]["name"]

    @property
    def applications(self) -> list[dict[str, Any]]:
        return self.serve_config.get("applications", [])

    @property
    def routes(self) -> dict[str, str]:
        """Route prefix -> application name."""
        return {app.get("route_prefix", "/"): app["name"] for app in self.applications}

    @property
    def cluster_config(self) -> dict[str, Any]:
        return self.raw["spec"]["rayClusterConfig"]

    @property
    def auth_mode(self) -> str:
        """Ray's authentication, exactly as KubeRay v1.7.0 reads it: "token" only for ``authOptions: {mode:
        token}``, else "disabled" (``authOptions: {}`` still gets a Secret but no auth env vars). With token,
        KubeRay makes a Secret with a random token and sets RAY_AUTH_MODE/RAY_AUTH_TOKEN on every Ray
        container; the local backend does the same with a token file in its state folder."""
        options = self.cluster_config.get("authOptions") or {}
        return "token" if options.get("mode") == "token" else "disabled"

    @property
    def gcs_fault_tolerance(self) -> dict[str, Any] | None:
        """``rayClusterConfig.gcsFaultToleranceOptions`` (None without): the external Redis where the head's GCS
        keeps its tables, so that a restarted head finds the cluster (nodes, actors, Serve's applications)
        again. KubeRay v1.7.0 reads ``redisAddress`` and ``redisPassword`` (a ``valueFrom.secretKeyRef``, never
        a value written in the file); the local backend starts its own Redis on 127.0.0.1 instead of the
        address."""
        options = self.cluster_config.get("gcsFaultToleranceOptions")
        return dict(options) if options else None

    @property
    def head_num_cpus(self) -> float:
        return _num_cpus(self.cluster_config["headGroupSpec"])

    @property
    def worker_groups(self) -> list[WorkerGroup]:
        return [
            WorkerGroup(g["groupName"], worker_replicas(g), _num_cpus(g))
            for g in self.cluster_config.get("workerGroupSpecs", [])
        ]

    def to_yaml(self) -> str:
        """The manifest as YAML, serveConfigV2 written as a `|` block (as you would write it by hand)."""
        return yaml.dump(self.raw, Dumper=_BlockDumper, sort_keys=False)

    def cluster_yaml(self) -> str:
        """``rayClusterConfig`` as YAML, as it sits under ``spec:``: the half KubeRay builds the RayCluster from."""
        return yaml.dump({"rayClusterConfig": self.cluster_config}, Dumper=_BlockDumper, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        """Write the manifest to ``path``; a relative path is the repository root's (``build/ray-service.yaml``),
        where the kubectl commands the lessons print run."""
        path = Path(path) if Path(path).is_absolute() else config.PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml())
        return path


def diff(old: RayServiceManifest, new: RayServiceManifest, name: str | None = None, context: int = 3) -> str:
    """What changed from ``old`` to ``new``, as a unified diff of the two YAML files (``to_yaml()``):
    the edit a learner would make by hand in the file before ``kubectl apply -f`` it.

    Both sides are labelled after the file (``a/ray-service.yaml``, ``b/ray-service.yaml``) unless ``name``
    is given. Returns an empty string when the manifests are the same.
    """
    name = name or _file_name(new.source) or _file_name(old.source) or "ray-service.yaml"
    lines = difflib.unified_diff(
        _normalized(old).to_yaml().splitlines(keepends=True),
        _normalized(new).to_yaml().splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
        n=context,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _normalized(manifest: RayServiceManifest) -> RayServiceManifest:
    """serveConfigV2 re-written from its parsed content, so that only real changes show in a diff (not
    indentation or quoting differences between a hand-written file and an edited copy)."""
    raw = copy.deepcopy(manifest.raw)
    raw["spec"]["serveConfigV2"] = serve_config_yaml(manifest.serve_config)
    return RayServiceManifest(raw=raw, serve_config=manifest.serve_config, source=manifest.source)


def _file_name(source: str) -> str | None:
    base = source.removesuffix(" (edited)").strip()
    return Path(base).name if base.endswith((".yaml", ".yml")) else None


class _BlockDumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, text: str):
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_BlockDumper.add_representer(str, _str)


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key (``applications:\n  - name: ...``), as the manifests in manifests/ are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def serve_config_yaml(serve_config: dict[str, Any]) -> str:
    """The text of ``serveConfigV2`` for ``serve_config``, written the way the files in manifests/ write it."""
    return yaml.dump(serve_config, Dumper=_IndentedDumper, sort_keys=False)


def load_manifest(path_or_text: str | Path) -> RayServiceManifest:
    """Read a RayService from a file path (or YAML text) and validate it.

    Raises ManifestError listing every problem, each with its fix.
    """
    text, source = _read(path_or_text)
    raw, findings = parse(text)
    if findings:
        raise ManifestError(source, [f.message for f in findings], findings)
    return validate(raw, source)


def as_manifest(manifest: RayServiceManifest | str | Path) -> RayServiceManifest:
    """What every apply starts with: a path or YAML text is loaded and linted (errors raise ManifestError)."""
    return manifest if isinstance(manifest, RayServiceManifest) else load_manifest(manifest)


def lint_before_apply(manifest: RayServiceManifest | str | Path) -> RayServiceManifest:
    """``as_manifest`` plus the lint warnings printed: run by both backends' ``apply``."""
    manifest = as_manifest(manifest)
    for warning in manifest.warnings:
        print(f"Lint {warning} ({manifest.source})")
    return manifest


def validate(raw: Any, source: str = "<manifest>") -> RayServiceManifest:
    """Validate an already-parsed manifest object: every error-level rule of helpers.lint must pass."""
    findings, ctx = check(raw)
    errors = [f for f in findings if f.severity == "error"]
    if errors or ctx is None:
        raise ManifestError(source, [f.message for f in errors], findings)
    warnings = [f for f in findings if f.severity != "error"]
    return RayServiceManifest(raw=raw, serve_config=ctx.serve_config, source=source, warnings=warnings)


def _edited(source: str) -> str:
    return source if source.endswith("(edited)") else f"{source} (edited)"


def edited(manifest: RayServiceManifest, raw: dict[str, Any]) -> RayServiceManifest:
    """``raw`` (an edited copy of ``manifest.raw``) validated, named as an edit of ``manifest``'s file."""
    return validate(raw, _edited(manifest.source))


def with_serve_config(manifest: RayServiceManifest, serve_config: dict[str, Any]) -> RayServiceManifest:
    """A copy of ``manifest`` whose serveConfigV2 is ``serve_config`` (validated)."""
    raw = copy.deepcopy(manifest.raw)
    raw["spec"]["serveConfigV2"] = serve_config_yaml(serve_config)
    return validate(raw, _edited(manifest.source))


def _edit_app(manifest: RayServiceManifest, app: str, change) -> RayServiceManifest:
    serve_config = copy.deepcopy(manifest.serve_config)
    apps = {a["name"]: a for a in serve_config.get("applications", [])}
    if app not in apps:
        raise ManifestError(
            manifest.source, [f"no application {app!r} in serveConfigV2: choose one of {', '.join(sorted(apps))}"]
        )
    change(apps[app])
    return with_serve_config(manifest, serve_config)


def _deployment(manifest: RayServiceManifest, app: dict, deployment: str) -> dict:
    deployments = {d["name"]: d for d in app.get("deployments", [])}
    if deployment not in deployments:
        raise ManifestError(
            manifest.source,
            [
                f"application {app['name']!r} has no deployment {deployment!r}: choose one of "
                f"{', '.join(sorted(deployments)) or '(none listed)'}"
            ],
        )
    return deployments[deployment]


def with_deployment_options(manifest: RayServiceManifest, app: str, deployment: str, **options) -> RayServiceManifest:
    """A copy with deployment options set, e.g. ``num_replicas=3`` or ``user_config={...}``.

    Changing only ``user_config`` reconfigures the running replicas in place; most other options
    replace the replicas one by one.
    """
    return _edit_app(manifest, app, lambda a: _deployment(manifest, a, deployment).update(options))


def with_user_config(manifest: RayServiceManifest, app: str, deployment: str, user_config: dict) -> RayServiceManifest:
    return with_deployment_options(manifest, app, deployment, user_config=user_config)


def with_app_env(manifest: RayServiceManifest, app: str, env: dict[str, str]) -> RayServiceManifest:
    """A copy with ``runtime_env.env_vars`` of ``app`` updated: a code/env change (new replicas)."""

    def change(a: dict) -> None:
        runtime_env = a.setdefault("runtime_env", {})
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **{k: str(v) for k, v in env.items()}}

    return _edit_app(manifest, app, change)


def with_import_path(manifest: RayServiceManifest, app: str, import_path: str) -> RayServiceManifest:
    return _edit_app(manifest, app, lambda a: a.update(import_path=import_path))


def with_route_prefix(manifest: RayServiceManifest, app: str, prefix: str) -> RayServiceManifest:
    """A copy with ``app`` served at ``prefix`` (an in-place update: the replicas keep running)."""
    return _edit_app(manifest, app, lambda a: a.update(route_prefix=prefix))


def with_pod_env(manifest: RayServiceManifest, env: dict[str, str]) -> RayServiceManifest:
    """A copy whose Ray containers (head and workers) get ``env`` added.

    A change to ``rayClusterConfig`` like this one makes KubeRay build a new cluster, wait until its
    applications are RUNNING, switch traffic to it, then delete the old one (zero downtime).
    """
    raw = copy.deepcopy(manifest.raw)
    cluster = raw["spec"]["rayClusterConfig"]
    for group in [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]:
        for container in _containers(group):
            kept = [e for e in container.get("env") or [] if e.get("name") not in env]
            container["env"] = kept + [{"name": k, "value": str(v)} for k, v in env.items()]
    return validate(raw, _edited(manifest.source))


# -- small helpers --------------------------------------------------------------------------


def _read(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml"))
    ):
        given = Path(path_or_text)
        # Relative paths work from the project root and from notebooks/ (where lessons run).
        candidates = (
            [given] if given.is_absolute() else [given, config.PROJECT_ROOT / given, config.NOTEBOOKS_DIR / given]
        )
        for path in candidates:
            if path.exists():
                return path.read_text(), path.name
        raise ManifestError(str(path_or_text), [f"file not found: {path_or_text} (the manifests are in manifests/)"])
    return str(path_or_text), "<manifest text>"
