"""The manifest linter: one rule per common RayService mistake, each message saying what to write instead.

``lint(raw)`` returns every finding; ``helpers.manifests.validate`` refuses a manifest with an
error-level finding, and ``python -m helpers lint FILE...`` prints them (exit code 1 on an error).
``spec.serveConfigV2`` is checked with Ray Serve's own schema (``ServeDeploySchema``), so those rules
are Ray's, not a copy of them; its field names are read from Ray's pydantic models at run time (keys
Serve would ignore without a word are reported), and the RayService's own fields are checked against
KubeRay v1.7.0's CRD schema (``helpers.crd_schema``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers import i18n

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

    def __str__(self) -> str:  # in the learner's language (helpers.i18n); English unchanged
        return f"{i18n.tr(self.severity)} [{self.rule}] {i18n.tr(self.message)}"


@dataclass
class Context:
    """What the rules look at: the raw manifest and, once it parses, its Serve config."""

    raw: dict[str, Any]
    spec: dict[str, Any]
    serve_config: dict[str, Any] | None = None  # parsed serveConfigV2, when it is a valid YAML string
    serve_ok: bool = False  # serve_config also passed Ray's schema
    cluster_ok: bool = False
    placement: Placement | None = None  # the replica placement analysis, computed once for three rules

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
        # Unknown keys where Ray forbids them (logging_config): serve-unknown-keys says which key was meant.
        for err in [e for e in errors if e.get("type") != "extra_forbidden"]:
            # Pydantic reports each branch of a Union; keep the first message per field.
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "-" in p) and p not in ("str", "int")]
            path = _path(loc)
            if path in seen:
                continue
            seen.add(path)
            yield f"spec.serveConfigV2: {path}: {err['msg']} (got {err.get('input')!r}) [Ray Serve's ServeDeploySchema]"
        return
    ctx.serve_ok = True


@rule(
    "serve-unknown-keys",
    "every key in spec.serveConfigV2 is an option of Ray Serve's schema (Serve ignores unknown ones silently)",
)
def _serve_unknown_keys(ctx: Context):
    if ctx.serve_config is None:
        return
    from ray.serve.schema import ServeDeploySchema

    yield from _unknown_serve_keys(ctx.serve_config, ServeDeploySchema, "", "the top level")


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


# -- unknown keys: Ray Serve's schema, read from Ray's pydantic models ---------------------------


def _model_fields(model: type) -> dict[str, Any]:
    """Field name (and alias) -> type annotation: pydantic v2 (``model_fields``) or v1 (``__fields__``)."""
    out: dict[str, Any] = {}
    fields = getattr(model, "model_fields", None)
    if isinstance(fields, dict):
        for name, f in fields.items():
            aliases = (f.alias, f.validation_alias if isinstance(f.validation_alias, str) else None)
            for key in (name, *aliases):
                if key:
                    out[key] = f.annotation
        return out
    for name, f in (getattr(model, "__fields__", None) or {}).items():
        for key in (name, getattr(f, "alias", None)):
            if key:
                out[key] = getattr(f, "outer_type_", None)
    return out


def _extra(model: type) -> str:
    """What the model does with unknown keys: "ignore" (pydantic's default), "forbid" or "allow"."""
    config = getattr(model, "model_config", None)
    extra = config.get("extra") if isinstance(config, dict) else getattr(getattr(model, "Config", None), "extra", None)
    return str(getattr(extra, "value", extra) or "ignore")


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and (hasattr(t, "model_fields") or hasattr(t, "__fields__"))


def _nested_model(annotation: Any) -> tuple[type, bool] | None:
    """(model, holds a list of them) when a field holds one pydantic model (or a list of one), else None.

    ``Optional[Union[Dict, AutoscalingConfig]]`` counts as the model: Serve validates such a dict with it
    later, and ignores its unknown keys too. Plain dicts (runtime_env, user_config, args...) are free-form.
    """
    import typing

    found: set[tuple[type, bool]] = set()

    def visit(t: Any, in_list: bool) -> None:
        origin = typing.get_origin(t)
        if origin in (list, tuple, set):
            for arg in typing.get_args(t):
                visit(arg, True)
        elif origin is not None and origin is not dict:
            for arg in typing.get_args(t):  # Union, Optional, Annotated (its metadata are not types)
                visit(arg, in_list)
        elif _is_model(t):
            found.add((t, in_list))

    visit(annotation, False)
    return found.pop() if len(found) == 1 else None


def _did_you_mean(key: Any, known: Iterable[str]) -> str | None:
    known = [k for k in known if isinstance(k, str)]
    if not isinstance(key, str):
        return None
    for k in known:
        if k.lower() == key.lower():
            return k
    for guess in (key, _snake(key)):
        close = difflib.get_close_matches(guess, known, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def _flow(value: Any) -> str:
    """A value as it would be written in YAML on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _known(names: Iterable[str], limit: int = 30) -> str:
    names = sorted(names)
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


_ITEM = {"applications": "application", "deployments": "deployment"}


def _unknown_serve_keys(obj: Any, model: type, path: str, where: str):
    if not isinstance(obj, dict):
        return
    fields = _model_fields(model)
    for key, value in obj.items():
        here = f"{path}.{key}" if path else str(key)
        if key in fields:
            nested = _nested_model(fields[key])
            if nested is None:
                continue
            sub, many = nested
            if many and isinstance(value, list):
                for i, item in enumerate(value):
                    name = item.get("name") if isinstance(item, dict) else None
                    what = f"{_ITEM.get(key, 'an item of ' + key)}{f' {name!r}' if name else ''}"
                    yield from _unknown_serve_keys(item, sub, f"{here}[{i}]", what)
            elif not many:
                yield from _unknown_serve_keys(value, sub, here, key)
            continue
        extra = _extra(model)
        if extra == "allow" or (isinstance(key, str) and _CAMEL.match(key) and _snake(key) in fields):
            continue  # kept by Ray / a camelCase spelling of a real key (the camel-case-keys rule says so)
        guess = _did_you_mean(key, fields)
        effect = (
            "Ray Serve rejects it"
            if extra == "forbid"
            else "Ray Serve ignores unknown keys without a word, so the option you meant keeps its default"
        )
        fix = (
            f"did you mean `{guess}`? Write {guess}: {_flow(value)}"
            if guess
            else f"the keys there are: {_known(k for k in fields if k)}"
        )
        yield (
            f"spec.serveConfigV2: {here}: `{key}` is not a key of {where} in Ray Serve's schema "
            f"({model.__name__}); {effect}: {fix}"
        )


# -- unknown fields: KubeRay's CRD schema ----------------------------------------------------------

# metadata is checked by the API server against Kubernetes' ObjectMeta, not against the CRD's schema.
OBJECT_META = (
    "annotations creationTimestamp deletionGracePeriodSeconds deletionTimestamp finalizers generateName "
    "generation labels managedFields name namespace ownerReferences resourceVersion selfLink uid"
).split()


@rule("crd-unknown-fields", "every field of the RayService is in KubeRay's CRD schema (kubectl apply rejects others)")
def _crd_unknown_fields(ctx: Context):
    schema = _crd_schema()
    metadata = ctx.raw.get("metadata")
    for key in metadata if isinstance(metadata, dict) else {}:
        if key not in OBJECT_META:
            yield _unknown_field_message("metadata", key, OBJECT_META)
    for key, value in ctx.raw.items():
        props = schema.get("properties") or {}
        if key == "metadata":
            continue
        if key in props:
            yield from _unknown_crd_fields(value, props[key], str(key))
        else:
            yield _unknown_field_message("", key, props)


@functools.lru_cache(maxsize=1)
def _crd_schema() -> dict[str, Any]:
    from helpers import crd_schema

    return crd_schema.load_extract()


def _unknown_crd_fields(obj: Any, schema: dict[str, Any], path: str):
    if isinstance(obj, list):
        items = schema.get("items")
        for i, item in enumerate(obj if isinstance(items, dict) else []):
            yield from _unknown_crd_fields(item, items, f"{path}[{i}]")
        return
    if not isinstance(obj, dict):
        return
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, value in obj.items():
        if isinstance(props, dict) and key in props:
            yield from _unknown_crd_fields(value, props[key], f"{path}.{key}")
        elif isinstance(extra, dict):  # a map (labels, resources.limits, rayStartParams...): any key
            yield from _unknown_crd_fields(value, extra, f"{path}.{key}")
        elif isinstance(props, dict) and extra is not True and not schema.get("x-kubernetes-preserve-unknown-fields"):
            yield _unknown_field_message(path, key, props)


def _unknown_field_message(path: str, key: Any, known: Iterable[str]) -> str:
    known = list(known)
    here = f"{path}.{key}" if path else str(key)
    guess = _did_you_mean(key, known)
    effect = "so KubeRay never sees it"
    if guess == "workerGroupSpecs":
        effect = "and KubeRay builds the head and no worker nodes"
    fix = f"did you mean `{guess}`? Rename it to {guess}:" if guess else f"the fields there are: {_known(known)}"
    return (
        f"{here} is not a field of a RayService (KubeRay v1.7.0's CRD has no `{key}` there): kubectl apply "
        f"rejects it (strict field validation: unknown field), and an API server that lets it through drops "
        f"it, {effect}; {fix}"
    )


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
        for key in ("replicas", "minReplicas", "maxReplicas", "numOfHosts"):
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


@rule("gcs-fault-tolerance", "gcsFaultToleranceOptions as KubeRay v1.7.0 and Ray accept it: Redis, set only there")
def _gcs_fault_tolerance(ctx: Context):
    options = ctx.cluster.get("gcsFaultToleranceOptions")
    head = ctx.cluster.get("headGroupSpec")
    heads = containers(head) if isinstance(head, dict) else []
    head_env = {e.get("name") for e in (heads[0].get("env") or []) if isinstance(e, dict)} if heads else set()
    if not isinstance(options, dict):
        if "RAY_REDIS_ADDRESS" in head_env:  # KubeRay v1.7.0, utils/validation.go
            yield (
                "the head container sets RAY_REDIS_ADDRESS, which turns GCS fault tolerance on, but "
                "gcsFaultToleranceOptions is not set: KubeRay rejects the RayService. Remove the env and write "
                "rayClusterConfig.gcsFaultToleranceOptions: {redisAddress: ..., redisPassword: {valueFrom: "
                "{secretKeyRef: ...}}} (see manifests/ray-service-ha.yaml)"
            )
        return
    if options.get("backend") == "rocksdb":
        from helpers.config import RAY_VERSION

        version = ctx.cluster.get("rayVersion") or RAY_VERSION
        yield (
            f"gcsFaultToleranceOptions.backend is rocksdb, but Ray {version}'s GCS has no RocksDB storage (newer "
            "Ray versions add it; KubeRay v1.7.0 also needs its GCSFaultToleranceEmbeddedStorage feature gate): "
            "use Redis: remove backend (or write backend: redis) and storage, and set redisAddress and "
            "redisPassword from a Secret, as in manifests/ray-service-ha.yaml"
        )
        return
    if not options.get("redisAddress"):
        yield (
            "gcsFaultToleranceOptions has no redisAddress: KubeRay passes it to the head as RAY_REDIS_ADDRESS, "
            'and without it the GCS keeps its tables in the head\'s memory. Write redisAddress: "redis:6379" '
            "(the Service of manifests/redis/)"
        )
    # KubeRay v1.7.0 sets these itself from gcsFaultToleranceOptions and rejects a RayService that sets them too.
    for name, field_ in (("RAY_REDIS_ADDRESS", "redisAddress"), ("REDIS_PASSWORD", "redisPassword")):
        if name in head_env:
            yield (
                f"the head container sets {name} by hand next to gcsFaultToleranceOptions: KubeRay sets it "
                f"from gcsFaultToleranceOptions.{field_} and rejects the RayService when both are there. Remove "
                f"the env entry; write only gcsFaultToleranceOptions.{field_}"
            )
    params = head.get("rayStartParams") if isinstance(head, dict) else None
    if isinstance(params, dict) and "redis-password" in params:
        yield (
            "headGroupSpec.rayStartParams sets redis-password next to gcsFaultToleranceOptions: KubeRay rejects "
            "the RayService (it passes --redis-password=$REDIS_PASSWORD itself). Remove it; write "
            "gcsFaultToleranceOptions.redisPassword: {valueFrom: {secretKeyRef: {name: redis-password, key: password}}}"
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
    options = ctx.cluster.get("gcsFaultToleranceOptions")
    password = options.get("redisPassword") if isinstance(options, dict) else None
    if isinstance(password, dict) and "value" in password:
        yield (
            "credentials written inline in rayClusterConfig.gcsFaultToleranceOptions.redisPassword.value: anyone "
            "who can read the RayService can read the Redis password. Reference the Secret instead: redisPassword: "
            "{valueFrom: {secretKeyRef: {name: redis-password, key: password}}} (the Secret manifests/redis/ "
            "reads; the kind backend creates it with a random password)"
        )


@rule("replica-cpus", "no replica asks for more CPUs than the largest node has")
def _replica_cpus(ctx: Context):
    placement = _placement(ctx)
    if placement is None:
        return
    for r in placement.too_big:
        yield (
            f"deployment {r.deployment!r} of application {r.app!r} asks for {r.cpus:g} CPUs per replica "
            f"(ray_actor_options.num_cpus{'' if r.cpus_set else ', 1 when not set'}), but the largest "
            f"Ray node has {placement.largest:g}: no node can ever hold it. Lower num_cpus (e.g. 0.2) or give "
            "the nodes more CPUs (rayStartParams num-cpus, or resources.limits.cpu)"
        )


@rule("replica-capacity", "all replicas together fit in the cluster's CPUs")
def _replica_capacity(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.too_big or placement.needed <= placement.total + 1e-9:
        return
    biggest = max(placement.replicas, key=lambda r: r.cpus * r.count)
    yield (
        f"the replicas ask for {placement.needed:g} CPUs in all but the cluster has {placement.total:g} (head + "
        f"worker replicas): Serve would leave the extra replicas PENDING forever. The largest share is "
        f"{biggest.deployment!r} of {biggest.app!r} ({biggest.cpus * biggest.count:g} CPUs): lower num_replicas "
        "or num_cpus, or add worker replicas"
    )


# The smallest node the tutorial runs on: the host backend's (this 2-core machine), or a kind node on a 2-core
# laptop. Its pods beside the Ray pods on the host node: CoreDNS and the KubeRay operator, 50m each.
SMALL_NODE_CPUS = 2.0
ADDON_CPUS = 0.1


@rule("upgrade-room", "two RayClusters' CPU requests fit a 2-CPU node: a new-cluster upgrade runs both", "warning")
def _upgrade_room(ctx: Context):
    from helpers.quantities import pod_resources

    groups = [(ctx.cluster.get("headGroupSpec"), 1)] + [
        (g, g.get("replicas", 1)) for g in ctx.cluster.get("workerGroupSpecs") or [] if isinstance(g, dict)
    ]
    try:
        need = sum(pod_resources(g["template"])["requests.cpu"] * int(n or 0) for g, n in groups if g)
    except (KeyError, TypeError, ValueError, AttributeError):
        return  # a malformed group: cluster-config says what is wrong
    room = SMALL_NODE_CPUS - ADDON_CPUS
    if 2 * need > room + 1e-9:
        yield (
            f"the Ray pods request {need:g} CPUs in all, {2 * need:g} while a rayClusterConfig change runs two "
            f"RayClusters, more than a {SMALL_NODE_CPUS:g}-CPU node has for them ({room:g} beside CoreDNS and the "
            "operator): the new cluster's pods would stay Pending and the upgrade never finish. Lower "
            "resources.requests.cpu (e.g. 200m); resources.limits.cpu stays what Ray counts as the pod's CPUs"
        )


@rule("replica-packing", "every replica's CPUs fit on ONE node: the replicas can be packed onto the nodes")
def _replica_packing(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not False:
        return
    stuck, free, held = placement.first_fit
    r = placement.replicas[stuck]
    room = [f for f, n in zip(free, held) if f >= r.units and r.per_node is not None and n >= r.per_node]
    if room:
        blocked = (
            f"finds no node it may go to: the nodes with {r.cpus:g} CPU free already hold max_replicas_per_node "
            f"({r.per_node}) of its replicas"
        )
    else:
        most = max(free, default=0) / UNIT
        blocked = f"finds no node with {r.cpus:g} CPU free (the most left on one node is {most:g})"
    yield (
        f"the replicas need {placement.needed:g} CPUs and the cluster has {placement.total:g}, but each replica "
        f"needs its CPUs on ONE node and no placement fits them all ({placement.describe_nodes()}): placing the "
        f"largest first, a replica of {r.label} ({r.cpus:g} CPU{r.default_note}) {blocked}. Serve would leave "
        f"it PENDING forever. To fix it, {placement.fixes(stuck)}."
    )


@rule(
    "replica-placement",
    "the replicas fit whatever node Serve puts each one on (not only with one particular placement)",
    "warning",
)
def _replica_placement(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not True or not placement.blocking:
        return
    path, stuck = placement.blocking
    r = placement.replicas[stuck]
    free = placement.free_after(path)
    yield (
        f"the replicas fit only if Serve places them well: Serve spreads replicas over the nodes as they start, "
        f"and if they land as {placement.describe_path(path)}, a replica of {r.label} ({r.cpus:g} CPU"
        f"{r.default_note}) finds no node with {r.cpus:g} CPU free (at most {max(free, default=0) / UNIT:g} is "
        f"left on one node): it stays PENDING and application {r.app!r} never becomes RUNNING. "
        f"To fix it, {placement.fixes(stuck)}: then every placement fits."
    )


# -- replica placement: each replica needs its CPUs on one node ---------------------------------------

UNIT = 10_000  # Ray counts resources in 1/10000ths of a unit
SEARCH_BUDGET = 5_000  # states explored before the placement search gives up (it then says nothing)
SEARCH_REPLICAS = 200  # more replicas than this: only the sums and first-fit-decreasing are checked


@dataclass(frozen=True)
class Replicas:
    """The replicas of one deployment as Serve schedules them: each one an actor needing ``cpus`` on a node."""

    app: str
    deployment: str
    cpus: float
    count: int
    per_node: int | None = None  # max_replicas_per_node
    cpus_set: bool = True  # num_cpus written (else Serve's default, 1)

    @property
    def units(self) -> int:
        return round(self.cpus * UNIT)

    @property
    def label(self) -> str:
        return f"{self.deployment!r} of {self.app!r}"

    @property
    def default_note(self) -> str:
        return "" if self.cpus_set else ", Serve's default when ray_actor_options.num_cpus is not set"


@dataclass(frozen=True)
class NodeGroup:
    """``count`` Ray nodes with ``cpus`` CPUs each: the head, or a worker group's replicas."""

    label: str
    cpus: float
    count: int
    group: int | None = None  # index in workerGroupSpecs (None: the head)
    max_replicas: int | None = None  # the group's maxReplicas (KubeRay never makes more)


class _OverBudget(Exception):
    pass


@dataclass
class Placement:
    """Can the replicas be placed on the nodes, one replica's CPUs on one node?"""

    replicas: list[Replicas]
    nodes: list[NodeGroup]
    autoscaling: bool = False

    def __post_init__(self) -> None:
        self.largest = max((n.cpus for n in self.nodes), default=0.0)
        self.total = sum(n.cpus * n.count for n in self.nodes)
        self.needed = sum(r.cpus * r.count for r in self.replicas)
        self.too_big = [r for r in self.replicas if r.count and r.units > round(self.largest * UNIT)]
        self.fits: bool | None = None  # None: not checked (too big, over capacity) or the search gave up
        self.first_fit: tuple[int, list[int], list[int]] | None = None
        self.blocking: tuple[list[tuple[int, int]], int] | None = None
        if self.too_big or self.needed > self.total + 1e-9:
            return
        self.fits, self.first_fit = _packs(self.replicas, self._caps())
        if self.fits:
            try:
                self.blocking = _blocking(self.replicas, self._caps())
            except _OverBudget:
                self.blocking = None

    def _caps(self) -> list[int]:
        return [round(n.cpus * UNIT) for n, _ in self._expanded()]

    def _expanded(self) -> list[tuple[NodeGroup, int]]:
        """One entry per node (never more per group than there are replicas: extra nodes change nothing)."""
        most = max(1, sum(r.count for r in self.replicas))
        return [(n, i) for n in self.nodes for i in range(min(n.count, most))]

    def node_name(self, index: int) -> str:
        group, i = self._expanded()[index]
        return group.label if group.count == 1 else f"{group.label} node {i + 1}"

    def describe_nodes(self) -> str:
        return ", ".join(
            f"{n.label} {n.cpus:g} CPU" if n.group is None else f"{n.label} {n.count} × {n.cpus:g} CPU"
            for n in self.nodes
        )

    def describe_path(self, path: list[tuple[int, int]]) -> str:
        on: dict[int, dict[int, int]] = {}
        for r, node in path:
            on.setdefault(node, {}).setdefault(r, 0)
            on[node][r] += 1
        parts = []
        for node in sorted(on):
            held = ", ".join(
                f"{n} × {self.replicas[r].label} ({self.replicas[r].cpus:g} CPU)" for r, n in on[node].items()
            )
            parts.append(f"{self.node_name(node)}: {held}")
        return "; ".join(parts)

    def free_after(self, path: list[tuple[int, int]]) -> list[int]:
        free = self._caps()
        for r, node in path:
            free[node] -= self.replicas[r].units
        return free

    def clean(self) -> bool:
        """Every placement fits (no error, no warning)."""
        return self.fits is True and not self.blocking

    def fixes(self, stuck: int) -> str:
        """What to write instead, each option checked: it makes every placement fit."""
        r = self.replicas[stuck]
        options = []
        for cpus in (0.5, 0.25, 0.2, 0.1, 0.05):
            if cpus < r.cpus and self._with(stuck, cpus=cpus, cpus_set=True).clean():
                options.append(f"write ray_actor_options: {{num_cpus: {cpus:g}}} for {r.label}")
                break
        if r.per_node is not None:
            for per_node in range(r.per_node + 1, r.count + 1):
                if self._with(stuck, per_node=per_node).clean():
                    options.append(f"write max_replicas_per_node: {per_node} for {r.label}")
                    break
        workers = [n for n in self.nodes if n.group is not None]
        if workers:
            for extra in range(1, 9):
                more = [dataclasses.replace(n, count=n.count + extra) if n is workers[0] else n for n in self.nodes]
                if Placement(self.replicas, more, self.autoscaling).clean():
                    count = workers[0].count + extra
                    if self.autoscaling:
                        change = f"maxReplicas: {count}"
                    elif workers[0].max_replicas is not None and count > workers[0].max_replicas:
                        change = f"replicas: {count} and maxReplicas: {count}"
                    else:
                        change = f"replicas: {count}"
                    options.append(f"set {change} in {workers[0].label}")
                    break
        if not options:
            return "lower num_replicas or num_cpus, or give the cluster more nodes or CPUs"
        return ", or ".join(options)

    def _with(self, index: int, **change: Any) -> Placement:
        replicas = list(self.replicas)
        replicas[index] = dataclasses.replace(replicas[index], **change)
        return Placement(replicas, self.nodes, self.autoscaling)


def _first_fit_decreasing(replicas: list[Replicas], caps: list[int]):
    """Largest replicas first, each on the first node with room: (deployment that did not fit, free, held)."""
    free = list(caps)
    for index in sorted(range(len(replicas)), key=lambda i: -replicas[i].units):
        r = replicas[index]
        held = [0] * len(free)
        for _ in range(r.count):
            for node in range(len(free)):
                if free[node] >= r.units and (r.per_node is None or held[node] < r.per_node):
                    free[node] -= r.units
                    held[node] += 1
                    break
            else:
                return index, free, held
    return None


def _packs(replicas: list[Replicas], caps: list[int]) -> tuple[bool | None, Any]:
    """(True, None) when some placement fits every replica; (False, first-fit-decreasing's failure) when
    none does; (None, that failure) when the search gave up. First-fit-decreasing decides most cases."""
    failed = _first_fit_decreasing(replicas, caps)
    if failed is None:
        return True, None
    if sum(r.count for r in replicas) > SEARCH_REPLICAS:
        return None, failed
    order = sorted((r for r in replicas if r.count), key=lambda r: -r.units)
    seen: set = set()

    def place(i: int, left: int, nodes: tuple) -> bool:
        # nodes: sorted (free units, replicas of order[i] held): nodes with the same state are alike.
        if left == 0:
            if i + 1 == len(order):
                return True
            return place(i + 1, order[i + 1].count, tuple(sorted((f, 0) for f, _ in nodes)))
        key = (i, left, nodes)
        if key in seen:
            return False
        seen.add(key)
        if len(seen) > SEARCH_BUDGET:
            raise _OverBudget
        r = order[i]
        for state in sorted(set(nodes), reverse=True):
            free, held = state
            if free >= r.units and (r.per_node is None or held < r.per_node):
                rest = list(nodes)
                rest.remove(state)
                if place(i, left - 1, tuple(sorted([*rest, (free - r.units, held + 1)]))):
                    return True
        return False

    try:
        return (place(0, order[0].count, tuple(sorted((c, 0) for c in caps))) if order else True), failed
    except (_OverBudget, RecursionError):
        return None, failed


def _blocking(replicas: list[Replicas], caps: list[int]):
    """A placement order that leaves a replica with no node to go to, as (path, stuck deployment), or None.

    Serve starts replicas one after another (deployments in order, each one spread over the nodes) and
    never moves a running replica, so any order of placements can happen: the search tries them all,
    deployments in config order and the emptiest node first (Serve's SPREAD), nodes in the same state once.
    """
    if sum(r.count for r in replicas) > SEARCH_REPLICAS or _never_blocks(replicas, caps):
        return None
    capped = [i for i, r in enumerate(replicas) if r.per_node is not None]
    seen: set = set()

    def fits(r: int, node: tuple) -> bool:
        rep = replicas[r]
        return node[0] >= rep.units and (rep.per_node is None or node[1][capped.index(r)] < rep.per_node)

    def search(left: tuple, nodes: list[tuple], path: list):
        key = (left, tuple(sorted(nodes)))
        if key in seen:
            return None
        seen.add(key)
        if len(seen) > SEARCH_BUDGET:
            raise _OverBudget
        waiting = [r for r, n in enumerate(left) if n]
        for r in waiting:
            if not any(fits(r, node) for node in nodes):
                return path, r
        for r in waiting:
            tried = set()
            for index in sorted(range(len(nodes)), key=lambda i: -nodes[i][0]):
                node = nodes[index]
                if node in tried or not fits(r, node):
                    continue
                tried.add(node)
                held = list(node[1])
                if r in capped:
                    held[capped.index(r)] += 1
                after = [*nodes[:index], (node[0] - replicas[r].units, tuple(held)), *nodes[index + 1 :]]
                rest = tuple(n - 1 if i == r else n for i, n in enumerate(left))
                found = search(rest, after, [*path, (r, index)])
                if found:
                    return found
        return None

    nodes = [(c, (0,) * len(capped)) for c in caps]
    return search(tuple(r.count for r in replicas), nodes, [])


def _never_blocks(replicas: list[Replicas], caps: list[int]) -> bool:
    """A quick proof that no order blocks: for every deployment, the other replicas together cannot leave
    less than one of its replicas' CPUs free on every node that is large enough (and its per-node limit
    cannot bind). Most clusters with room to spare pass here, and the search is not needed."""
    needed = sum(r.units * r.count for r in replicas)
    for r in replicas:
        if not r.count:
            continue
        if r.per_node is not None and r.count > r.per_node:
            return False
        spare = sum(c - r.units for c in caps if c >= r.units)
        if needed - r.units >= spare + len([c for c in caps if c >= r.units]):
            return False
    return True


def _placement(ctx: Context) -> Placement | None:
    """The placement analysis, once per manifest; None while the Serve config or the cluster is broken."""
    if not (ctx.serve_ok and ctx.cluster_ok):
        return None
    if ctx.placement is None:
        autoscaling = bool(ctx.cluster.get("enableInTreeAutoscaling"))
        ctx.placement = Placement(_deployments(ctx.serve_config), _nodes(ctx.cluster), autoscaling)
    return ctx.placement


# -- small helpers ------------------------------------------------------------------------------


def containers(group: Any) -> list[dict]:
    if not isinstance(group, dict):
        return []
    found = (((group.get("template") or {}).get("spec")) or {}).get("containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _quantity(value: Any) -> float:
    """A Kubernetes CPU quantity ('1', 2, '500m', '1.5') in CPUs; ValueError for anything else."""
    text = str(value).strip()
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def num_cpus(group: dict) -> float:
    """The CPUs Ray sees on a node, as KubeRay v1.7.0 sets `ray start --num-cpus`.

    The group's ``resources: {cpu: ...}``, else ``rayStartParams`` num-cpus, else the Ray container's
    (the first one's) CPU limit, else its CPU request. A limit or request is rounded *up* to a whole
    number, as Kubernetes' ``Quantity.Value()`` does (``500m`` gives 1 CPU). With none of these Ray
    counts the machine's CPUs; the linter then assumes 1.
    """
    resources = group.get("resources")
    for key, value in (resources if isinstance(resources, dict) else {}).items():
        if str(key).lower() == "cpu":
            return float(math.ceil(_quantity(value)))
    params = group.get("rayStartParams") or {}
    if "num-cpus" in params:
        return float(params["num-cpus"])
    found = containers(group)
    limits = (found[0].get("resources") or {}) if found else {}
    for kind in ("limits", "requests"):
        cpu = (limits.get(kind) or {}).get("cpu")
        if cpu is not None and _quantity(cpu) > 0:
            return float(math.ceil(_quantity(cpu) - 1e-9))
    return 1.0


def _worker_default(key: str) -> Any:
    """A worker group field's default in KubeRay's CRD (replicas 0, minReplicas 0, maxReplicas 2^31-1...)."""
    cluster = _crd_schema()["properties"]["spec"]["properties"]["rayClusterConfig"]["properties"]
    return cluster["workerGroupSpecs"]["items"]["properties"][key].get("default")


def worker_replicas(group: dict) -> int:
    """The worker nodes of a group, as KubeRay v1.7.0 counts them (the CRD's defaults filled in first):
    ``replicas`` kept within [minReplicas, maxReplicas], times ``numOfHosts``; 0 when the group is suspended."""
    if group.get("suspend") is True:
        return 0
    low = int(group.get("minReplicas", _worker_default("minReplicas")))
    high = int(group.get("maxReplicas", _worker_default("maxReplicas")))
    replicas = int(group.get("replicas", _worker_default("replicas")))
    replicas = low if replicas < low else min(replicas, high)
    return replicas * int(group.get("numOfHosts", _worker_default("numOfHosts")))


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


def _nodes(cluster: dict) -> list[NodeGroup]:
    """The head and every worker group; with the in-tree autoscaler, a group's maxReplicas nodes."""
    autoscaling = bool(cluster.get("enableInTreeAutoscaling"))
    nodes = [NodeGroup("head", num_cpus(cluster["headGroupSpec"]), 1)]
    for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
        count = worker_replicas(group)
        high = int(group.get("maxReplicas", _worker_default("maxReplicas")))
        if autoscaling and group.get("suspend") is not True:
            count = max(count, high * int(group.get("numOfHosts", _worker_default("numOfHosts"))))
        nodes.append(NodeGroup(f"worker group {group.get('groupName')!r}", num_cpus(group), count, i, high))
    return [n for n in nodes if n.count]


def _deployments(serve_config: dict) -> list[Replicas]:
    """The replicas of every deployment listed in the config (num_replicas 1 when unset; with autoscaling,
    its initial_replicas or min_replicas, the replicas Serve starts with)."""
    out = []
    for app in serve_config.get("applications") or []:
        for d in app.get("deployments") or []:
            count = d.get("num_replicas")
            scaling = d.get("autoscaling_config") if isinstance(d.get("autoscaling_config"), dict) else {}
            if count == "auto" or (count is None and scaling):
                count = scaling.get("initial_replicas") or scaling.get("min_replicas", 1)
            count = 1 if count is None else count
            if not isinstance(count, int) or isinstance(count, bool):
                continue
            cpus = (d.get("ray_actor_options") or {}).get("num_cpus")
            per_node = d.get("max_replicas_per_node")
            per_node = per_node if isinstance(per_node, int) and not isinstance(per_node, bool) else None
            cpus_set = cpus is not None
            out.append(
                Replicas(app.get("name"), d.get("name"), float(cpus) if cpus_set else 1.0, count, per_node, cpus_set)
            )
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
