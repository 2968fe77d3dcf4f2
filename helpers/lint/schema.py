"""The whole RayService against KubeRay v1.7.0's CRD schema, as the API server applies it.

Two passes: ``crd-schema`` (types, required fields, enums, quantity patterns, bounds: ``helpers.crd_schema``
with the CRD's defaults filled in first, as the API server does) and ``crd-unknown-fields`` (strict field
validation: a field the schema does not declare). The schema is the data in ``helpers/data/``; no rule here
re-states what it declares. jsonschema's own message (a violation this module has no wording for) stays as it
prints; every word of ours is in the learner's language (``helpers.i18n._()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpers import crd_schema as crd
from helpers.i18n import N_, _
from helpers.lint.groups import crd_schema
from helpers.lint.registry import Context, did_you_mean, flow, known_list, path_of, problem, rule

# Paths a more specific rule words better (serve-config-string turns an object into the YAML string to write).
OWNED_ELSEWHERE = {("spec", "serveConfigV2")}
# A JSON schema type -> (what it is called in a finding, translated when the finding is made; an example value).
KINDS = {
    "integer": (N_("a whole number"), "1"),
    "number": (N_("a number"), "1"),
    "boolean": (N_("true or false"), "true"),
    "string": (N_("a string"), '"..."'),
    "object": (N_("a mapping (indented key: value lines)"), "{...}"),
    "array": (N_("a list (lines starting with -)"), "[...]"),
}


@rule(
    "crd-schema",
    N_("the RayService passes KubeRay's CRD schema as the API server applies it (types, required, enums)"),
)
def _crd_schema(ctx: Context):
    errors = crd.errors(ctx.raw, crd_schema())
    ctx.schema_errors = [tuple(e.path) for e in errors]
    for error in errors:
        if tuple(error.path) not in OWNED_ELSEWHERE:
            message = _worded(error)
            if message:
                yield message


def _worded(error: Any) -> str | None:
    """One schema violation as a finding: where, what is wrong, what to write instead."""
    loc = list(error.path)
    where = path_of(loc) or "the RayService"
    key = loc[-1] if loc and isinstance(loc[-1], str) else "value"
    value, kind, schema = error.instance, error.validator, error.schema
    why = _("KubeRay v1.7.0's CRD schema: kubectl apply rejects it")
    if kind == "required":
        missing = error.message.split("'")[1]
        declared = schema.get("properties") or {}
        if isinstance(value, dict) and any(k not in declared and did_you_mean(k, [missing]) for k in value):
            return None  # a misspelt field: crd-unknown-fields names it and the field that was meant
        return problem(f"{where}.{missing}" if loc else missing, _("is missing"), f"{missing}: ...", why=why)
    if kind == "type" or (kind == "anyOf" and schema.get("x-kubernetes-int-or-string")):
        expected = "integer" if kind == "anyOf" else error.validator_value
        expected = expected[0] if isinstance(expected, list) else expected
        if kind == "anyOf":
            words, example = _("a number or a quantity such as 500m or 2Gi"), "500m"
        elif expected in KINDS:
            words, example = _(KINDS[expected][0]), KINDS[expected][1]
        else:
            words, example = str(expected), "..."
        if expected == "string" and not isinstance(value, (dict, list)):
            example = f'"{flow(value)}"'
        wrong = _("is {value}, which is not {kind}", value=flow(value), kind=words)
        return problem(where, wrong, f"{key}: {example}", why=why)
    if kind == "pattern" and schema.get("x-kubernetes-int-or-string"):
        return problem(
            where,
            _("is {value}, which is not a Kubernetes quantity", value=flow(value)),
            _("{key}: 500m (or 1, 2Gi...)", key=key),
            why=why,
        )
    if kind == "enum":
        options = [o for o in error.validator_value if isinstance(o, str)]
        guess = did_you_mean(value, options)
        allowed = ", ".join(map(str, error.validator_value))
        return problem(
            where,
            _("is {value}, not one of {options}", value=flow(value), options=allowed),
            f"{key}: {guess or error.validator_value[0]}",
            why=why,
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        write = _("a number {bound} {limit}", bound=bound, limit=error.validator_value)
        return problem(where, _("is {value}", value=flow(value)), write, why=why)
    return problem(where, error.message[:300], why=why)


# metadata is checked by the API server against Kubernetes' ObjectMeta, not against the CRD's schema.
OBJECT_META = (
    "annotations creationTimestamp deletionGracePeriodSeconds deletionTimestamp finalizers generateName "
    "generation labels managedFields name namespace ownerReferences resourceVersion selfLink uid"
).split()


@rule(
    "crd-unknown-fields", N_("every field of the RayService is in KubeRay's CRD schema (kubectl apply rejects others)")
)
def _crd_unknown_fields(ctx: Context):
    schema = crd_schema()
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
    guess = did_you_mean(key, known)
    effect = _("so KubeRay never sees it")
    if guess == "workerGroupSpecs":
        effect = _("and KubeRay builds the head and no worker nodes")
    if guess:
        fix = _("did you mean `{guess}`? Rename it to {guess}:", guess=guess)
    else:
        fix = _("the fields there are: {fields}", fields=known_list(known))
    return _(
        "{here} is not a field of a RayService (KubeRay v1.7.0's CRD has no `{key}` there): kubectl apply rejects it "
        "(strict field validation: unknown field), and an API server that lets it through drops it, {effect}; {fix}",
        here=here,
        key=key,
        effect=effect,
        fix=fix,
    )
