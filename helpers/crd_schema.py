"""Validate a custom resource against a CRD's OpenAPI schema, as the Kubernetes API server does.

The API server applies the schema's defaults *before* it validates; a plain jsonschema check
does not, and then rejects every valid RayService (``minReplicas``/``maxReplicas`` of a worker
group are listed as required but have defaults). So: defaults first, then validation.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def load_schema(crd_path: Path, version: str = "v1") -> dict[str, Any]:
    crd = yaml.safe_load(Path(crd_path).read_text())
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry["schema"]["openAPIV3Schema"]
    raise ValueError(f"{crd_path} has no version {version!r}")


def apply_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``obj`` with every missing field that has a schema default filled in."""
    obj = copy.deepcopy(obj)
    _fill(obj, schema)
    return obj


def _fill(obj: Any, schema: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                _fill(obj[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for value in obj.values():
                _fill(value, extra)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            _fill(item, schema["items"])


def problems(obj: Any, schema: dict[str, Any]) -> list[str]:
    """Every schema violation of ``obj`` (after defaulting), as 'path: message'."""
    validator = jsonschema.Draft7Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(apply_defaults(obj, schema)), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in error.path) or "(root)"
        out.append(f"{path}: {error.message[:300]}")
    return out
