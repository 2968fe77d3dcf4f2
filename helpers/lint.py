"""The manifest linter: one rule per common RayService mistake, each message saying what to write instead.

``lint(raw)`` returns every finding; ``helpers.manifests.validate`` refuses a manifest with an
error-level finding, and ``python -m helpers lint FILE...`` prints them (exit code 1 on an error).
``spec.serveConfigV2`` is checked with Ray Serve's own schema (``ServeDeploySchema``), so those rules
are Ray's, not a copy of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

API_VERSION = "ray.io/v1"
MAX_NAME_LENGTH = 47  # KubeRay derives Service names from it; longer names are rejected.
FIRST_FIXED_RAY = (2, 54, 0)  # CVE-2026-27482: Ray <= 2.53 has unauthenticated DELETE endpoints.

_CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")
SECRET_NAME = re.compile(r"(ACCESS_KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    severity: str = "error"  # or "warning": reported, but the manifest still applies

    def __str__(self) -> str:
        return f"{self.severity} [{self.rule}] {self.message}"


@dataclass
class Context:
    """What the rules look at: the raw manifest and, once it parses, its Serve config."""

    raw: dict[str, Any]
    spec: dict[str, Any]
    serve_config: dict[str, Any] | None = None  # parsed serveConfigV2, when it is a valid YAML string
    serve_ok: bool = False  # serve_config also passed Ray's schema
    cluster_ok: bool = False

    @property
    def cluster(self) -> dict[str, Any]:
        cluster = self.spec.get("rayClusterConfig")
        return cluster if isinstance(cluster, dict) else {}


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    check: Callable[[Context], Iterable[str]]
    severity: str = "error"


RULES: list[Rule] = []


def rule(rule_id: str, summary: str, severity: str = "error"):
    def register(check: Callable[[Context], Iterable[str]]):
        RULES.append(Rule(rule_id, summary, check, severity))
        return check

    return register


# -- entry points ---------------------------------------------------------------------------


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


# -- header -----------------------------------------------------------------------------------


@rule("api-version", "apiVersion is ray.io/v1 (v1alpha1 is deprecated, removed in KubeRay 1.9)")
def _api_version(ctx: Context):
    api = ctx.raw.get("apiVersion")
    if api == "ray.io/v1alpha1":
        yield "apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1"
    elif api != API_VERSION:
        yield f"apiVersion is {api!r}: write apiVersion: {API_VERSION}"


@rule("kind", "kind is RayService")
def _kind(ctx: Context):
    if ctx.raw.get("kind") != "RayService":
        yield f"kind is {ctx.raw.get('kind')!r}: write kind: RayService"


@rule("name", "metadata.name is a valid Kubernetes name")
def _name(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        yield "metadata.name is missing: give the RayService a name, e.g. name: ray-serve-app"
    elif len(name) <= MAX_NAME_LENGTH and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name):
        yield (
            f"metadata.name {name!r} is not a valid Kubernetes name: use lower-case letters, digits and '-', "
            "starting with a letter"
        )


@rule("name-length", f"metadata.name has at most {MAX_NAME_LENGTH} characters")
def _name_length(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        yield (
            f"metadata.name {name!r} has {len(name)} characters; KubeRay allows at most "
            f"{MAX_NAME_LENGTH}: choose a shorter name"
        )


# -- serveConfigV2 ----------------------------------------------------------------------------


@rule("serve-config-string", "spec.serveConfigV2 is a YAML string (`serveConfigV2: |`) holding a mapping")
def _serve_config_string(ctx: Context):
    spec = ctx.spec
    if "serveConfig" in spec and "serveConfigV2" not in spec:
        yield (
            "spec.serveConfig is the old v1alpha1 single-application field: write spec.serveConfigV2 "
            "as a YAML string with an 'applications:' list"
        )
        return
    if "serveConfigV2" not in spec:
        yield (
            "spec.serveConfigV2 is missing: add `serveConfigV2: |` followed by a Ray Serve config "
            "(applications: - name: ..., route_prefix: ..., import_path: ...)"
        )
        return
    value = spec["serveConfigV2"]
    if isinstance(value, dict):
        fixed = yaml.safe_dump(_snake_keys(value), sort_keys=False)
        indented = "\n".join("      " + line for line in fixed.splitlines()[:24])
        yield (
            "spec.serveConfigV2 is an object, but KubeRay expects a YAML *string* in Ray Serve's "
            "snake_case schema. Write `serveConfigV2: |` and indent the config below it. For example:\n"
            "    serveConfigV2: |\n" + indented
        )
        return
    if not isinstance(value, str):
        yield (
            f"spec.serveConfigV2 is a {type(value).__name__}: write `serveConfigV2: |` followed by the "
            "Serve config as indented YAML text"
        )
        return
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} of the string)" if mark else ""
        yield f"spec.serveConfigV2 is not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        return
    if not isinstance(parsed, dict):
        yield "spec.serveConfigV2 must hold a mapping with an 'applications:' list"
        return
    ctx.serve_config = parsed


@rule("camel-case-keys", "Serve config keys are snake_case (route_prefix, import_path, num_replicas, env_vars)")
def _camel_case(ctx: Context):
    value = ctx.spec.get("serveConfigV2")
    target = value if isinstance(value, dict) else ctx.serve_config
    hint = _camel_hints(target) if target else ""
    if hint:
        yield f"spec.serveConfigV2 uses camelCase keys; Ray Serve's schema is snake_case: rename {hint}"


@rule("serve-schema", "spec.serveConfigV2 passes Ray Serve's own ServeDeploySchema")
def _serve_schema(ctx: Context):
    if ctx.serve_config is None:
        return
    import pydantic
    from ray.serve.schema import ServeDeploySchema

    try:
        ServeDeploySchema.model_validate(ctx.serve_config)
    except pydantic.ValidationError as exc:
        seen = set()
        # Ray also refuses duplicate route prefixes; the duplicate-route rule names the two apps.
        errors = [e for e in exc.errors() if "duplicate applications for route prefix" not in e["msg"]]
        ctx.serve_ok = not errors
        for err in errors:
            # Pydantic reports each branch of a Union; keep the first message per field.
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "-" in p) and p not in ("str", "int")]
            path = _path(loc)
            if path in seen:
                continue
            seen.add(path)
            yield f"spec.serveConfigV2: {path}: {err['msg']} (got {err.get('input')!r}) [Ray Serve's ServeDeploySchema]"
        return
    ctx.serve_ok = True


@rule("route-prefix", "every route_prefix starts with '/' (and does not end with one, except '/' itself)")
def _route_prefix(ctx: Context):
    for app in (ctx.serve_config or {}).get("applications") or []:
        prefix = app.get("route_prefix") if isinstance(app, dict) else None
        if not isinstance(prefix, str):
            continue  # missing (Serve's default "/") or the wrong type (the serve-schema rule says so)
        if not prefix.startswith("/") or (prefix != "/" and prefix.endswith("/")):
            fixed = "/" + prefix.strip("/")
            yield (
                f"spec.serveConfigV2: application {app.get('name')!r} has route_prefix {prefix!r}: Serve routes "
                f"by URL path, so write route_prefix: {fixed}"
            )


@rule("duplicate-route", "every application has its own route_prefix")
def _duplicate_routes(ctx: Context):
    seen: dict[str, str] = {}
    for app in (ctx.serve_config or {}).get("applications") or []:
        if not isinstance(app, dict) or "route_prefix" not in app:
            continue
        prefix = app["route_prefix"]
        if prefix in seen:
            yield (
                f"spec.serveConfigV2: applications {seen[prefix]!r} and {app.get('name')!r} share "
                f"route_prefix {prefix!r}: give each application its own prefix"
            )
        seen[prefix] = app.get("name")


# -- rayClusterConfig -------------------------------------------------------------------------


@rule("cluster-config", "rayClusterConfig has a head group and well-formed worker groups")
def _cluster_config(ctx: Context):
    cluster = ctx.spec.get("rayClusterConfig")
    if not isinstance(cluster, dict):
        yield "spec.rayClusterConfig is missing: add headGroupSpec (and workerGroupSpecs)"
        return
    before = True
    head = cluster.get("headGroupSpec")
    if not isinstance(head, dict) or not containers(head):
        before = False
        yield "spec.rayClusterConfig.headGroupSpec needs template.spec.containers with the Ray image"
    groups = cluster.get("workerGroupSpecs", [])
    if not isinstance(groups, list):
        yield "spec.rayClusterConfig.workerGroupSpecs must be a list of worker groups"
        return
    for i, group in enumerate(groups):
        where = f"spec.rayClusterConfig.workerGroupSpecs[{i}]"
        if not isinstance(group, dict) or not group.get("groupName"):
            before = False
            yield f"{where}.groupName is missing: name the group, e.g. groupName: workers"
            continue
        for key in ("replicas", "minReplicas", "maxReplicas"):
            value = group.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                before = False
                yield f"{where}.{key} is {value!r}: write a whole number >= 0"
        if not containers(group):
            before = False
            yield f"{where} needs template.spec.containers with the Ray image"
        try:
            num_cpus(group)
        except ValueError:
            before = False
            yield (
                f"{where}: the CPU count is not a number: write e.g. rayStartParams: {{num-cpus: '1'}} "
                "or limits: {cpu: '1'}"
            )
    ctx.cluster_ok = before


@rule("ray-version", "rayVersion matches the tag of every rayproject/ray image")
def _ray_version(ctx: Context):
    version = ctx.cluster.get("rayVersion")
    for where, container in _all_containers(ctx.cluster):
        tag = image_ray_version(container.get("image"))
        if tag and version is not None and str(version) != tag:
            yield (
                f"rayVersion is {str(version)!r} but {where} container {container.get('name')!r} runs image "
                f"{container.get('image')}: KubeRay reads rayVersion to decide how to talk to Ray, so set both "
                f'to the same version (rayVersion: "{tag}", or change the image tag)'
            )


@rule("ray-version-cve", "Ray is newer than 2.53 (CVE-2026-27482: unauthenticated DELETE endpoints)", "warning")
def _ray_version_cve(ctx: Context):
    versions = {str(ctx.cluster["rayVersion"])} if ctx.cluster.get("rayVersion") else set()
    versions |= {image_ray_version(c.get("image")) for _, c in _all_containers(ctx.cluster)} - {None}
    for version in sorted(versions):
        parsed = _version_tuple(version)
        if parsed and parsed < FIRST_FIXED_RAY:
            from helpers.config import RAY_VERSION

            yield (
                f"Ray {version} is affected by CVE-2026-27482 (unauthenticated DELETE endpoints on the "
                f"dashboard): use Ray {RAY_VERSION} (rayVersion and image tag rayproject/ray:{RAY_VERSION})"
            )


@rule("serve-port", "the head container names its Serve port `serve` (containerPort 8000)", "warning")
def _serve_port(ctx: Context):
    head = ctx.cluster.get("headGroupSpec")
    heads = containers(head) if isinstance(head, dict) else []
    if not heads:
        return
    ports = heads[0].get("ports") or []
    named = [p for p in ports if isinstance(p, dict) and p.get("name") == "serve"]
    if not named:
        unnamed = [p.get("containerPort") for p in ports if isinstance(p, dict) and not p.get("name")]
        listed = f" (ports {unnamed} have no name)" if unnamed else ""
        yield (
            f"the head container has no port named 'serve'{listed}: KubeRay builds the "
            "<name>-serve-svc Service from the port named serve, so write "
            "ports: - {containerPort: 8000, name: serve}"
        )


# -- both: credentials and resources ------------------------------------------------------------


@rule("inline-credentials", "no credentials written inline: reference a Kubernetes Secret instead")
def _inline_credentials(ctx: Context):
    raw_serve = ctx.spec.get("serveConfigV2")
    source = raw_serve if isinstance(raw_serve, dict) else (ctx.serve_config or {})
    apps = source.get("applications") or []
    for i, app in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(app, dict):
            continue
        runtime_env_key = "runtimeEnv" if "runtimeEnv" in app else "runtime_env"
        runtime_env = app.get(runtime_env_key) or {}
        for env_key in ("env", "env_vars", "envVars"):
            env = runtime_env.get(env_key) if isinstance(runtime_env, dict) else None
            names = [k for k in (env if isinstance(env, dict) else {}) if SECRET_NAME.search(str(k))]
            if names:
                yield (
                    f"credentials written inline in serveConfigV2 applications[{i}].{runtime_env_key}."
                    f"{env_key} ({', '.join(names)}): anyone who can read the RayService can read them. "
                    "Put them in a Kubernetes Secret (kubectl create secret generic ...) and reference it "
                    "from the pod template: env: - name: ... valueFrom: secretKeyRef: {name: ..., key: ...}"
                )
    for where, container in _all_containers(ctx.cluster):
        for env in container.get("env") or []:
            if isinstance(env, dict) and SECRET_NAME.search(str(env.get("name", ""))) and "value" in env:
                yield (
                    f"credentials written inline in rayClusterConfig.{where} container "
                    f"{container.get('name')!r} env {env.get('name')!r}: use valueFrom.secretKeyRef "
                    "pointing at a Kubernetes Secret instead of value:"
                )


@rule("replica-cpus", "no replica asks for more CPUs than the largest node has")
def _replica_cpus(ctx: Context):
    if not (ctx.serve_ok and ctx.cluster_ok):
        return
    largest = max(node for node, _ in _nodes(ctx.cluster))
    for app, deployment, cpus, _ in _deployments(ctx.serve_config):
        if cpus > largest:
            yield (
                f"deployment {deployment!r} of application {app!r} asks for {cpus:g} CPUs per replica "
                f"(ray_actor_options.num_cpus{'' if cpus != 1 else ', 1 when not set'}), but the largest "
                f"Ray node has {largest:g}: no node can ever hold it. Lower num_cpus (e.g. 0.2) or give "
                "the nodes more CPUs (rayStartParams num-cpus, or resources.limits.cpu)"
            )


@rule("replica-capacity", "all replicas together fit in the cluster's CPUs")
def _replica_capacity(ctx: Context):
    if not (ctx.serve_ok and ctx.cluster_ok):
        return
    total = sum(cpus * count for cpus, count in _nodes(ctx.cluster))
    wanted = [(a, d, cpus * n) for a, d, cpus, n in _deployments(ctx.serve_config)]
    needed = sum(w for *_, w in wanted)
    if needed > total + 1e-9:
        biggest = max(wanted, key=lambda w: w[2])
        yield (
            f"the replicas ask for {needed:g} CPUs in all but the cluster has {total:g} (head + worker "
            f"replicas): Serve would leave the extra replicas PENDING forever. The largest share is "
            f"{biggest[1]!r} of {biggest[0]!r} ({biggest[2]:g} CPUs): lower num_replicas or num_cpus, or add "
            "worker replicas"
        )


# -- small helpers ------------------------------------------------------------------------------


def containers(group: Any) -> list[dict]:
    if not isinstance(group, dict):
        return []
    found = (((group.get("template") or {}).get("spec")) or {}).get("containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def num_cpus(group: dict) -> float:
    """The CPUs Ray sees on a node: rayStartParams num-cpus, else the container's CPU limit, else 1."""
    params = group.get("rayStartParams") or {}
    if "num-cpus" in params:
        return float(params["num-cpus"])
    found = containers(group)
    limit = ((found[0].get("resources") or {}).get("limits") or {}).get("cpu") if found else None
    if limit is None:
        return 1.0
    text = str(limit)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def worker_replicas(group: dict) -> int:
    """KubeRay's defaults: replicas 0, raised to minReplicas (0 by default)."""
    return max(int(group.get("replicas", 0)), int(group.get("minReplicas", 0)))


def image_ray_version(image: Any) -> str | None:
    """'rayproject/ray:2.55.1-py311' -> '2.55.1'; None for other images."""
    match = re.fullmatch(r"(?:.*/)?rayproject/ray(?:-ml)?:(\d+\.\d+\.\d+)(?:-.*)?", str(image or ""))
    return match.group(1) if match else None


def _version_tuple(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(x) for x in match.groups()) if match else None


def _all_containers(cluster: dict) -> list[tuple[str, dict]]:
    groups = [("headGroupSpec", cluster.get("headGroupSpec"))]
    workers = cluster.get("workerGroupSpecs")
    groups += [(f"workerGroupSpecs[{i}]", g) for i, g in enumerate(workers if isinstance(workers, list) else [])]
    return [(where, c) for where, group in groups for c in containers(group)]


def _nodes(cluster: dict) -> list[tuple[float, int]]:
    """(CPUs per node, node count) for the head and every worker group."""
    autoscaling = bool(cluster.get("enableInTreeAutoscaling"))
    nodes = [(num_cpus(cluster["headGroupSpec"]), 1)]
    for group in cluster.get("workerGroupSpecs") or []:
        count = max(worker_replicas(group), int(group.get("maxReplicas", 0)) if autoscaling else 0)
        nodes.append((num_cpus(group), count))
    return [(cpus, count) for cpus, count in nodes if count]


def _deployments(serve_config: dict) -> list[tuple[str, str, float, int]]:
    """(app, deployment, CPUs per replica, replica count) for deployments with a fixed replica count."""
    out = []
    for app in serve_config.get("applications") or []:
        for d in app.get("deployments") or []:
            count = d.get("num_replicas", 1)
            if not isinstance(count, int):
                continue  # "auto": the autoscaler decides
            cpus = (d.get("ray_actor_options") or {}).get("num_cpus", 1)
            out.append((app.get("name"), d.get("name"), float(cpus), count))
    return out


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
                value = {k: v for k, v in value.items() if not SECRET_NAME.search(str(k))}
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


@dataclass
class FileReport:
    """The findings for one file, as the command line prints them."""

    path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def render(self) -> str:
        if not self.findings:
            return f"{self.path}: ok ({len(RULES)} rules)"
        lines = [f"{self.path}: {len(self.errors)} error(s), {len(self.findings) - len(self.errors)} warning(s)"]
        for f in self.findings:
            body = f.message.replace("\n", "\n      ")
            lines.append(f"  {f.severity} [{f.rule}] {body}")
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
