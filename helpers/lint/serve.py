"""spec.serveConfigV2 with Ray Serve's own models: the rules are Ray's, not a copy of them.

``ServeDeploySchema`` checks the config as Serve does when KubeRay submits it; the nested configs Serve
only validates at deploy time (a deployment's ``autoscaling_config``, ``request_router_config``...: typed
``Dict | Model``, so the schema lets any dict through) are checked here with their models too, before
apply. Field names are read from Ray's pydantic (v2) models at run time, so keys Serve would ignore without
a word are reported with the key that was meant. Pydantic's own messages (``err['msg']``) stay as Ray prints them;
the words around them are ours, in the learner's language (``helpers.i18n._()``).
"""

from __future__ import annotations

import typing
from typing import Any

import pydantic
import yaml

from helpers.i18n import N_, _
from helpers.lint.registry import (
    CAMEL,
    SECRET_NAME,
    Context,
    did_you_mean,
    flow,
    known_list,
    path_of,
    problem,
    rule,
    snake,
)


@rule("serve-config-string", N_("spec.serveConfigV2 is a YAML string (`serveConfigV2: |`) holding a mapping"))
def _serve_config_string(ctx: Context):
    spec = ctx.spec
    if "serveConfig" in spec and "serveConfigV2" not in spec:
        yield _(
            "spec.serveConfig is the old v1alpha1 single-application field: write spec.serveConfigV2 "
            "as a YAML string with an 'applications:' list"
        )
        return
    if "serveConfigV2" not in spec:
        yield _(
            "spec.serveConfigV2 is missing: add `serveConfigV2: |` followed by a Ray Serve config "
            "(applications: - name: ..., route_prefix: ..., import_path: ...)"
        )
        return
    value = spec["serveConfigV2"]
    if isinstance(value, dict):
        fixed = yaml.safe_dump(_snake_keys(value), sort_keys=False)
        indented = "\n".join("      " + line for line in fixed.splitlines()[:24])
        yield _(
            "spec.serveConfigV2 is an object, but KubeRay expects a YAML *string* in Ray Serve's "
            "snake_case schema. Write `serveConfigV2: |` and indent the config below it. For example:\n{example}",
            example="    serveConfigV2: |\n" + indented,
        )
        return
    if not isinstance(value, str):
        yield _(
            "spec.serveConfigV2 is a {type}: write `serveConfigV2: |` followed by the Serve config as indented "
            "YAML text",
            type=type(value).__name__,
        )
        return
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line {line} of the string)", line=mark.line + 1) if mark else ""
        yield _(
            "spec.serveConfigV2 is not valid YAML{where}: {problem}", where=where, problem=getattr(exc, "problem", exc)
        )
        return
    if not isinstance(parsed, dict):
        yield _("spec.serveConfigV2 must hold a mapping with an 'applications:' list")
        return
    ctx.serve_config = parsed


@rule("camel-case-keys", N_("Serve config keys are snake_case (route_prefix, import_path, num_replicas, env_vars)"))
def _camel_case(ctx: Context):
    value = ctx.spec.get("serveConfigV2")
    target = value if isinstance(value, dict) else ctx.serve_config
    hint = _camel_hints(target) if target else ""
    if hint:
        yield _(
            "spec.serveConfigV2 uses camelCase keys; Ray Serve's schema is snake_case: rename {renames}", renames=hint
        )


@rule("serve-schema", N_("spec.serveConfigV2 passes Ray Serve's own models (nested configs too, checked at deploy)"))
def _serve_schema(ctx: Context):
    if ctx.serve_config is None:
        return
    top = _serve_deploy_schema()
    try:
        top.model_validate(ctx.serve_config)
    except pydantic.ValidationError as exc:
        # Ray also refuses duplicate route prefixes; the duplicate-route rule names the two apps.
        errors = [e for e in exc.errors() if "duplicate applications for route prefix" not in e["msg"]]
        ctx.serve_ok = not errors
        yield from _worded(errors, (), top)
        return
    deferred = list(_deferred(ctx.serve_config, top, ()))
    ctx.serve_ok = not deferred
    yield from deferred


def _serve_deploy_schema() -> type:
    from ray.serve.schema import ServeDeploySchema  # imported when a rule runs: `import helpers.lint` stays light

    return ServeDeploySchema


def _worded(errors: list[dict], where: tuple, model: type, deferred: bool = False):
    """Pydantic's errors as findings, one per field (pydantic reports each branch of a Union)."""
    seen = set()
    # Unknown keys where Ray forbids them (logging_config): serve-unknown-keys says which key was meant.
    for err in [e for e in errors if e.get("type") != "extra_forbidden"]:
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "-" in p) and p not in ("str", "int")]
        path = path_of([*where, *loc])
        if path in seen:
            continue
        seen.add(path)
        if not deferred:
            yield _(
                "spec.serveConfigV2: {where}: {problem} (got {value}) [Ray Serve's ServeDeploySchema]",
                where=path,
                problem=err["msg"],
                value=repr(err.get("input")),
            )
            continue
        yield problem(
            f"spec.serveConfigV2: {path}",
            _("{problem} (got {value})", problem=err["msg"], value=flow(err.get("input"))),
            why=_(
                "Ray Serve's {model}, which Serve checks only when it deploys the application, so the RayService "
                "would apply and then fail to deploy",
                model=model.__name__,
            ),
        )


def _deferred(obj: Any, model: type, where: tuple):
    """The nested configs a model types ``Dict | Model`` (it lets any dict through and Serve validates the dict
    with the model at deploy time: autoscaling_config, request_router_config...), validated with that model now."""
    if not isinstance(obj, dict):
        return
    fields = _model_fields(model)
    for key, value in obj.items():
        if key not in fields:
            continue
        nested = _nested_model(fields[key])
        if nested is None:
            continue
        sub, many = nested
        items = list(enumerate(value)) if many and isinstance(value, list) else [(None, value)] if not many else []
        for i, item in items:
            here = (*where, key) if i is None else (*where, key, i)
            if _takes_any_dict(fields[key]) and isinstance(item, dict):
                try:
                    sub.model_validate(item)
                except pydantic.ValidationError as exc:
                    yield from _worded(exc.errors(), here, sub, deferred=True)
            else:
                yield from _deferred(item, sub, here)


def _takes_any_dict(annotation: Any) -> bool:
    """``Union[Dict, Model]`` (or a list of them): a plain dict passes the schema, unchecked."""
    found = False

    def visit(t: Any) -> None:
        nonlocal found
        origin = typing.get_origin(t)
        if t is dict or origin is dict:
            found = True
        elif origin is not None:
            for arg in typing.get_args(t):
                visit(arg)

    visit(annotation)
    return found


@rule(
    "serve-unknown-keys",
    N_("every key in spec.serveConfigV2 is an option of Ray Serve's schema (Serve ignores unknown ones silently)"),
)
def _serve_unknown_keys(ctx: Context):
    if ctx.serve_config is None:
        return
    yield from _unknown_serve_keys(ctx.serve_config, _serve_deploy_schema(), "", _("the top level"))


@rule("route-prefix", N_("every route_prefix starts with '/' (and does not end with one, except '/' itself)"))
def _route_prefix(ctx: Context):
    for app in (ctx.serve_config or {}).get("applications") or []:
        prefix = app.get("route_prefix") if isinstance(app, dict) else None
        if not isinstance(prefix, str):
            continue  # missing (Serve's default "/") or the wrong type (the serve-schema rule says so)
        if not prefix.startswith("/") or (prefix != "/" and prefix.endswith("/")):
            fixed = "/" + prefix.strip("/")
            yield _(
                "spec.serveConfigV2: application {app} has route_prefix {prefix}: Serve routes by URL path, so "
                "write route_prefix: {fixed}",
                app=repr(app.get("name")),
                prefix=repr(prefix),
                fixed=fixed,
            )


@rule("duplicate-route", N_("every application has its own route_prefix"))
def _duplicate_routes(ctx: Context):
    seen: dict[str, str] = {}
    for app in (ctx.serve_config or {}).get("applications") or []:
        if not isinstance(app, dict) or "route_prefix" not in app:
            continue
        prefix = app["route_prefix"]
        if prefix in seen:
            yield _(
                "spec.serveConfigV2: applications {first} and {second} share route_prefix {prefix}: give each "
                "application its own prefix",
                first=repr(seen[prefix]),
                second=repr(app.get("name")),
                prefix=repr(prefix),
            )
        seen[prefix] = app.get("name")


# -- unknown keys: Ray Serve's schema, read from Ray's pydantic models ---------------------------


def _model_fields(model: type) -> dict[str, Any]:
    """Field name (and alias) -> type annotation, from the pydantic 2 model's ``model_fields``."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        aliases = (f.alias, f.validation_alias if isinstance(f.validation_alias, str) else None)
        for key in (name, *aliases):
            if key:
                out[key] = f.annotation
    return out


def _extra(model: type) -> str:
    """What the model does with unknown keys: "ignore" (pydantic's default), "forbid" or "allow"."""
    extra = model.model_config.get("extra")
    return str(getattr(extra, "value", extra) or "ignore")


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, pydantic.BaseModel)


def _nested_model(annotation: Any) -> tuple[type, bool] | None:
    """(model, holds a list of them) when a field holds one pydantic model (or a list of one), else None.

    ``Optional[Union[Dict, AutoscalingConfig]]`` counts as the model: Serve validates such a dict with it
    later, and ignores its unknown keys too. Plain dicts (runtime_env, user_config, args...) are free-form.
    """
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


def _item(key: str, name: Any) -> str:
    """What an item of a list of Serve's config is called in a finding: "application 'hello'", "deployment"..."""
    if key == "applications":
        return _("application {name}", name=repr(name)) if name else _("application")
    if key == "deployments":
        return _("deployment {name}", name=repr(name)) if name else _("deployment")
    return _("an item of {key} {name}", key=key, name=repr(name)) if name else _("an item of {key}", key=key)


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
                    yield from _unknown_serve_keys(item, sub, f"{here}[{i}]", _item(key, name))
            elif not many:
                yield from _unknown_serve_keys(value, sub, here, key)
            continue
        extra = _extra(model)
        if extra == "allow" or (isinstance(key, str) and CAMEL.match(key) and snake(key) in fields):
            continue  # kept by Ray / a camelCase spelling of a real key (the camel-case-keys rule says so)
        guess = did_you_mean(key, fields)
        effect = (
            _("Ray Serve rejects it")
            if extra == "forbid"
            else _("Ray Serve ignores unknown keys without a word, so the option you meant keeps its default")
        )
        fix = (
            _("did you mean `{guess}`? Write {guess}: {value}", guess=guess, value=flow(value))
            if guess
            else _("the keys there are: {keys}", keys=known_list(k for k in fields if k))
        )
        yield _(
            "spec.serveConfigV2: {here}: `{key}` is not a key of {where} in Ray Serve's schema ({model}); {effect}: "
            "{fix}",
            here=here,
            key=key,
            where=where,
            model=model.__name__,
            effect=effect,
            fix=fix,
        )


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
    camel = sorted({k for k in _walk_keys(obj) if isinstance(k, str) and CAMEL.match(k)})
    hints = [f"{k} -> {snake(k)}" for k in camel]
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
            new = snake(key) if isinstance(key, str) and CAMEL.match(key) else key
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
