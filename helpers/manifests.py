"""Load and validate RayService manifests.

``spec.serveConfigV2`` is validated with Ray Serve's own config schema
(``ray.serve.schema.ServeDeploySchema``), so the rules are Ray's, not a copy of them.
Every problem found is reported at once, each with what to write instead.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers import config

API_VERSION = "ray.io/v1"
MAX_NAME_LENGTH = 47  # KubeRay derives Service names from it; longer names are rejected.

_CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")
_SECRET_NAME = re.compile(
    r"(ACCESS_KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.IGNORECASE
)


class ManifestError(ValueError):
    """A manifest that KubeRay or Ray Serve would reject; ``problems`` lists each mistake."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
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
    def head_num_cpus(self) -> float:
        return _num_cpus(self.cluster_config["headGroupSpec"])

    @property
    def worker_groups(self) -> list[WorkerGroup]:
        return [
            # KubeRay's defaults: replicas 0, raised to minReplicas (0 by default).
            WorkerGroup(g["groupName"], max(int(g.get("replicas", 0)), int(g.get("minReplicas", 0))), _num_cpus(g))
            for g in self.cluster_config.get("workerGroupSpecs", [])
        ]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.raw, sort_keys=False)


def load_manifest(path_or_text: str | Path) -> RayServiceManifest:
    """Read a RayService from a file path (or YAML text) and validate it.

    Raises ManifestError listing every problem, each with its fix.
    """
    text, source = _read(path_or_text)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(
            source,
            [f"YAML syntax error{where}: {problem}. Check the indentation and quoting there."],
        ) from None
    return validate(raw, source)


def validate(raw: Any, source: str = "<manifest>") -> RayServiceManifest:
    """Validate an already-parsed manifest object."""
    if not isinstance(raw, dict):
        raise ManifestError(
            source, ["the document is not a mapping: a RayService starts with apiVersion: ray.io/v1"]
        )
    problems: list[str] = []
    problems += _check_header(raw)
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        problems.append("spec is missing: a RayService needs spec.serveConfigV2 and spec.rayClusterConfig")
        raise ManifestError(source, problems)
    serve_config, serve_problems = _check_serve_config(spec)
    problems += serve_problems
    problems += _check_cluster_config(spec.get("rayClusterConfig"))
    problems += _check_inline_credentials(spec, serve_config)
    if problems:
        raise ManifestError(source, problems)
    return RayServiceManifest(raw=raw, serve_config=serve_config, source=source)


def _edited(source: str) -> str:
    return source if source.endswith("(edited)") else f"{source} (edited)"


def with_serve_config(manifest: RayServiceManifest, serve_config: dict[str, Any]) -> RayServiceManifest:
    """A copy of ``manifest`` whose serveConfigV2 is ``serve_config`` (validated)."""
    raw = copy.deepcopy(manifest.raw)
    raw["spec"]["serveConfigV2"] = yaml.safe_dump(serve_config, sort_keys=False)
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
            [f"application {app['name']!r} has no deployment {deployment!r}: choose one of "
             f"{', '.join(sorted(deployments)) or '(none listed)'}"],
        )  # fmt: skip
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


# -- checks -------------------------------------------------------------------------------


def _check_header(raw: dict) -> list[str]:
    problems = []
    api = raw.get("apiVersion")
    if api == "ray.io/v1alpha1":
        problems.append(
            "apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1"
        )
    elif api != API_VERSION:
        problems.append(f"apiVersion is {api!r}: write apiVersion: {API_VERSION}")
    if raw.get("kind") != "RayService":
        problems.append(f"kind is {raw.get('kind')!r}: write kind: RayService")
    name = (raw.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        problems.append("metadata.name is missing: give the RayService a name, e.g. name: ray-serve-app")
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(
            f"metadata.name {name!r} has {len(name)} characters; KubeRay allows at most "
            f"{MAX_NAME_LENGTH}: choose a shorter name"
        )
    elif not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name):
        problems.append(
            f"metadata.name {name!r} is not a valid Kubernetes name: use lower-case letters, digits and '-', "
            "starting with a letter"
        )
    return problems


def _check_serve_config(spec: dict) -> tuple[dict, list[str]]:
    if "serveConfig" in spec and "serveConfigV2" not in spec:
        return {}, [
            "spec.serveConfig is the old v1alpha1 single-application field: write spec.serveConfigV2 "
            "as a YAML string with an 'applications:' list"
        ]
    if "serveConfigV2" not in spec:
        return {}, [
            "spec.serveConfigV2 is missing: add `serveConfigV2: |` followed by a Ray Serve config "
            "(applications: - name: ..., route_prefix: ..., import_path: ...)"
        ]
    value = spec["serveConfigV2"]
    if isinstance(value, dict):
        hint = _camel_hints(value)
        fixed = yaml.safe_dump(_snake_keys(value), sort_keys=False)
        indented = "\n".join("      " + line for line in fixed.splitlines()[:24])
        return {}, [
            "spec.serveConfigV2 is an object, but KubeRay expects a YAML *string* in Ray Serve's "
            "snake_case schema. Write `serveConfigV2: |` and indent the config below it"
            + (f"; rename {hint}" if hint else "")
            + ". For example:\n    serveConfigV2: |\n"
            + indented
        ]
    if not isinstance(value, str):
        return {}, [
            f"spec.serveConfigV2 is a {type(value).__name__}: write `serveConfigV2: |` followed by the "
            "Serve config as indented YAML text"
        ]
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} of the string)" if mark else ""
        return {}, [f"spec.serveConfigV2 is not valid YAML{where}: {getattr(exc, 'problem', exc)}"]
    if not isinstance(parsed, dict):
        return {}, ["spec.serveConfigV2 must hold a mapping with an 'applications:' list"]
    problems = []
    hint = _camel_hints(parsed)
    if hint:
        problems.append(
            f"spec.serveConfigV2 uses camelCase keys; Ray Serve's schema is snake_case: rename {hint}"
        )
    problems += _serve_schema_problems(parsed)
    problems += _duplicate_routes(parsed)
    return parsed, problems


def _serve_schema_problems(serve_config: dict) -> list[str]:
    import pydantic
    from ray.serve.schema import ServeDeploySchema

    try:
        ServeDeploySchema.model_validate(serve_config)
    except pydantic.ValidationError as exc:
        problems, seen = [], set()
        for err in exc.errors():
            # Pydantic reports each branch of a Union; keep the first message per field.
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "-" in p) and p not in ("str", "int")]
            path = _path(loc)
            if path in seen:
                continue
            seen.add(path)
            problems.append(
                f"spec.serveConfigV2: {path}: {err['msg']} (got {err.get('input')!r}) "
                "[Ray Serve's ServeDeploySchema]"
            )
        return problems
    return []


def _duplicate_routes(serve_config: dict) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for app in serve_config.get("applications") or []:
        if not isinstance(app, dict) or "route_prefix" not in app:
            continue
        prefix = app["route_prefix"]
        if prefix in seen:
            problems.append(
                f"spec.serveConfigV2: applications {seen[prefix]!r} and {app.get('name')!r} share "
                f"route_prefix {prefix!r}: give each application its own prefix"
            )
        seen[prefix] = app.get("name")
    return problems


def _check_cluster_config(cluster: Any) -> list[str]:
    if not isinstance(cluster, dict):
        return ["spec.rayClusterConfig is missing: add headGroupSpec (and workerGroupSpecs)"]
    problems = []
    head = cluster.get("headGroupSpec")
    if not isinstance(head, dict) or not _containers(head):
        problems.append(
            "spec.rayClusterConfig.headGroupSpec needs template.spec.containers with the Ray image"
        )
    groups = cluster.get("workerGroupSpecs", [])
    if not isinstance(groups, list):
        problems.append("spec.rayClusterConfig.workerGroupSpecs must be a list of worker groups")
        groups = []
    for i, group in enumerate(groups):
        where = f"spec.rayClusterConfig.workerGroupSpecs[{i}]"
        if not isinstance(group, dict) or not group.get("groupName"):
            problems.append(f"{where}.groupName is missing: name the group, e.g. groupName: workers")
            continue
        replicas = group.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            problems.append(f"{where}.replicas is {replicas!r}: write a whole number >= 0")
        if not _containers(group):
            problems.append(f"{where} needs template.spec.containers with the Ray image")
    return problems


def _check_inline_credentials(spec: dict, serve_config: dict) -> list[str]:
    problems = []
    raw_serve = spec.get("serveConfigV2")
    apps = (raw_serve if isinstance(raw_serve, dict) else serve_config).get("applications") or []
    for i, app in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(app, dict):
            continue
        runtime_env_key = "runtimeEnv" if "runtimeEnv" in app else "runtime_env"
        runtime_env = app.get(runtime_env_key) or {}
        for env_key in ("env", "env_vars", "envVars"):
            env = runtime_env.get(env_key) if isinstance(runtime_env, dict) else None
            names = [k for k in (env or {}) if _SECRET_NAME.search(str(k))]
            if names:
                problems.append(
                    f"credentials written inline in serveConfigV2 applications[{i}].{runtime_env_key}."
                    f"{env_key} ({', '.join(names)}): anyone who can read the RayService can read them. "
                    "Put them in a Kubernetes Secret (kubectl create secret generic ...) and reference it "
                    "from the pod template: env: - name: ... valueFrom: secretKeyRef: {name: ..., key: ...}"
                )
    cluster = spec.get("rayClusterConfig") or {}
    groups = [("headGroupSpec", cluster.get("headGroupSpec"))] + [
        (f"workerGroupSpecs[{i}]", g) for i, g in enumerate(cluster.get("workerGroupSpecs") or [])
    ]
    for where, group in groups:
        for container in _containers(group) if isinstance(group, dict) else []:
            for env in container.get("env") or []:
                if _SECRET_NAME.search(str(env.get("name", ""))) and "value" in env:
                    problems.append(
                        f"credentials written inline in rayClusterConfig.{where} container "
                        f"{container.get('name')!r} env {env.get('name')!r}: use valueFrom.secretKeyRef "
                        "pointing at a Kubernetes Secret instead of value:"
                    )
    return problems


# -- small helpers --------------------------------------------------------------------------


def _read(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml"))
    ):
        given = Path(path_or_text)
        # Relative paths work from the project root and from notebooks/ (where lessons run).
        candidates = [given] if given.is_absolute() else [given, config.PROJECT_ROOT / given,
                                                           config.NOTEBOOKS_DIR / given]  # fmt: skip
        for path in candidates:
            if path.exists():
                return path.read_text(), path.name
        raise ManifestError(
            str(path_or_text), [f"file not found: {path_or_text} (the manifests are in manifests/)"]
        )
    return str(path_or_text), "<manifest text>"


def _containers(group: dict) -> list[dict]:
    containers = (((group.get("template") or {}).get("spec")) or {}).get("containers")
    return containers if isinstance(containers, list) else []


def _num_cpus(group: dict) -> float:
    """The CPUs Ray sees on a node: rayStartParams num-cpus, else the container's CPU limit."""
    params = group.get("rayStartParams") or {}
    if "num-cpus" in params:
        return float(params["num-cpus"])
    containers = _containers(group)
    limit = ((containers[0].get("resources") or {}).get("limits") or {}).get("cpu") if containers else None
    if limit is None:
        return 1.0
    text = str(limit)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _walk_keys(obj: Any):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            if key not in ("env", "env_vars", "envVars", "user_config", "userConfig", "args"):
                yield from _walk_keys(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _walk_keys(item)


def _camel_hints(obj: Any) -> str:
    camel = sorted({k for k in _walk_keys(obj) if isinstance(k, str) and _CAMEL.match(k)})
    hints = [f"{k} -> {_snake(k)}" for k in camel]
    apps = obj.get("applications") if isinstance(obj, dict) else None
    for app in apps if isinstance(apps, list) else []:
        env_holder = (app.get("runtimeEnv") or app.get("runtime_env")) if isinstance(app, dict) else None
        if isinstance(env_holder, dict) and "env" in env_holder:
            hints.append("runtime_env.env -> runtime_env.env_vars")
            break
    return ", ".join(hints)


def _snake_keys(obj: Any, parent: str = "") -> Any:
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            new = _snake(key) if isinstance(key, str) and _CAMEL.match(key) else key
            if parent in ("runtime_env",) and new == "env":
                new = "env_vars"
            if new == "env_vars" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if not _SECRET_NAME.search(str(k))}
                if not value:
                    continue  # credentials belong in a Secret, not in the example
            keep = new in ("env_vars", "user_config", "args")
            value = value if keep else _snake_keys(value, new)
            if value == {} and new == "runtime_env":
                continue
            out[new] = value
        return out
    if isinstance(obj, list):
        return [_snake_keys(item, parent) for item in obj]
    return obj


def _path(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
