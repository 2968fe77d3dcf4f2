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


def errors(obj: Any, schema: dict[str, Any]) -> list[jsonschema.ValidationError]:
    """Every schema violation of ``obj`` (after defaulting), in document order: the linter words each one."""
    validator = jsonschema.Draft7Validator(schema)
    return sorted(validator.iter_errors(apply_defaults(obj, schema)), key=lambda e: [str(p) for p in e.path])


def problems(obj: Any, schema: dict[str, Any]) -> list[str]:
    """Every schema violation of ``obj`` (after defaulting), as 'path: message'."""
    return [f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message[:300]}" for e in errors(obj, schema)]


# -- the structural extract kept in the package (helpers/data/) --------------------------------------
# KubeRay's CRD files carry KubeRay's description prose; the schema tests only need the facts (fields,
# types, enums, defaults, required, patterns). The extract keeps exactly those, so the linter and the tests run
# from any clone or installed copy (the package never reads tests/). Regenerate with `python -m helpers.crd_schema`
# when the pinned KubeRay version changes.

EXTRACT = Path(__file__).resolve().parent / "data" / "kuberay-v1.7.0" / "rayservice.v1.schema.json"
SOURCE = "ray.io_rayservices.yaml of KubeRay v1.7.0 (https://github.com/ray-project/kuberay, tag v1.7.0)"
PROSE = ("description",)


def structural(schema: Any) -> Any:
    """``schema`` without its prose: every key but ``description``, recursively (property names kept)."""
    if isinstance(schema, dict):
        return {k: structural(v) for k, v in schema.items() if k not in PROSE or _is_property_map(schema)}
    if isinstance(schema, list):
        return [structural(v) for v in schema]
    return schema


def _is_property_map(node: dict[str, Any]) -> bool:
    # Inside "properties" the keys are field names: a field called "description" must stay.
    return all(isinstance(v, dict) for v in node.values()) and "type" not in node


def extract(crd_path: Path, version: str = "v1") -> dict[str, Any]:
    return {
        "source": SOURCE,
        "license": "Apache-2.0, see NOTICE next to this file",
        "generated_by": "python -m helpers.crd_schema",
        "version": version,
        "schema": structural(load_schema(crd_path, version)),
    }


def load_extract(path: Path = EXTRACT) -> dict[str, Any]:
    """The RayService v1 schema from the committed extract (no KubeRay files needed)."""
    import json

    return json.loads(Path(path).read_text())["schema"]


def write_extract(crd_path: Path, out: Path = EXTRACT) -> Path:
    import json

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(extract(crd_path), sort_keys=True, separators=(",", ":")) + "\n")
    return out


if __name__ == "__main__":
    import sys

    crd = Path(sys.argv[1]) if len(sys.argv) > 1 else EXTRACT.parents[3].parent / "shared" / "kuberay-v1.7.0"
    crd = crd / "ray.io_rayservices.yaml" if crd.is_dir() else crd
    print(f"wrote {write_extract(crd)} from {crd}")
