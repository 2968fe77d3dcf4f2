"""The linter held to the API server's own verdict: `kubectl apply --dry-run=server` on every RayService the tests
and the lessons use (manifests/, labs/solutions/, labs/broken/, and every good and bad example of the lint tests).

The API server checks the RayService against the CRD KubeRay installed (types, required fields, enums, quantity
patterns, with the defaults filled in first), strict field validation (unknown fields) and Kubernetes' name
rules. The linter's rules of that level must say "error" exactly when the server refuses; KubeRay's and Serve's
rules (which the server does not run) may refuse more. The host cluster runs KubeRay v1.6.1 (config.HOST_VERSIONS),
whose CRD is not v1.7.0's: the linter's schema pass is given the CRD the server serves, so what is compared is
the pass itself (defaults, types, unknown fields), not the difference between two KubeRay versions.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from helpers import config, lint
from helpers.host import addons
from helpers.lint import groups
from helpers.lint import schema as schema_rules
from tests.unit import test_lint, test_lint_schemas

from .conftest import NAMESPACE

pytestmark = pytest.mark.host

ROOT = config.PROJECT_ROOT
# The rules whose refusal is the API server's: everything else (KubeRay's, Serve's, Ray's) it lets through.
SERVER_RULES = {"yaml-syntax", "structure", "crd-schema", "crd-unknown-fields"}
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _files() -> list[tuple[str, str]]:
    paths = sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml"))
    paths += sorted((ROOT / "labs" / "solutions").glob("*.yaml")) + sorted((ROOT / "labs" / "broken").glob("*.yaml"))
    out = []
    for path in paths:
        text = path.read_text()
        if re.search(r"^kind:\s*RayService\b", text, re.M):  # lab03.yaml is a budget, not a manifest
            out.append((str(Path(path).relative_to(ROOT)), text))
    return out


def _examples() -> list[tuple[str, str]]:
    """The lint tests' good manifest broken one way each (tests/unit/test_lint.py, test_lint_schemas.py)."""
    out = []
    for rule_id, (mutate, _) in test_lint.BAD.items():
        raw = test_lint.good()
        mutate(raw)
        out.append((f"test_lint.BAD[{rule_id}]", yaml.safe_dump(raw, sort_keys=False)))
    for i, case in enumerate(test_lint_schemas.KUBERAY):
        raw = test_lint_schemas.good()
        case[1](raw)
        out.append((f"test_lint_schemas.KUBERAY[{i}] {case[0]}", yaml.safe_dump(raw, sort_keys=False)))
    return out


CASES = _files() + _examples()


@pytest.fixture(scope="module")
def served_crd(host_backend) -> dict:
    return json.loads(addons.kubectl("get", "crd", "rayservices.ray.io", "-o", "json").stdout)


@pytest.fixture
def linter_with_the_served_schema(served_crd, monkeypatch):
    """The linter's schema pass reading the CRD the API server serves (v1 of KubeRay v1.6.1 on the host)."""
    (v1,) = [v for v in served_crd["spec"]["versions"] if v["name"] == "v1"]
    served = v1["schema"]["openAPIV3Schema"]
    monkeypatch.setattr(schema_rules, "crd_schema", lambda: served)
    monkeypatch.setattr(groups, "crd_schema", lambda: served)
    return served


def _server_level(findings: list, raw, served_crd: dict) -> list:
    """The findings the API server would agree with: the schema rules, a serveConfigV2 that is no string, a name
    that is no DNS subdomain (KubeRay's stricter DNS-1035 and 47-character rules are its own), a version the CRD
    does not serve."""
    served = {f"ray.io/{v['name']}" for v in served_crd["spec"]["versions"] if v.get("served")}
    spec = raw.get("spec") if isinstance(raw, dict) else None
    name = ((raw.get("metadata") or {}).get("name")) if isinstance(raw, dict) else None
    out = []
    for f in findings:
        if f.severity != "error":
            continue
        if f.rule in SERVER_RULES:
            out.append(f)
        elif f.rule == "serve-config-string" and isinstance(spec, dict) and "serveConfigV2" in spec:
            if not isinstance(spec["serveConfigV2"], str):
                out.append(f)
        elif f.rule == "name" and not (isinstance(name, str) and len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name)):
            out.append(f)
        elif f.rule in ("api-version", "kind") and (
            raw.get("apiVersion") not in served or raw.get("kind") != "RayService"
        ):
            out.append(f)
    return out


@pytest.mark.parametrize("where, text", CASES, ids=[c[0] for c in CASES])
def test_the_linter_refuses_what_the_api_server_refuses(where, text, served_crd, linter_with_the_served_schema):
    raw, _ = lint.parse(text)
    if isinstance(raw, dict) and isinstance(raw.get("metadata"), dict):
        raw = copy.deepcopy(raw)
        # Its own name, so the dry run creates one (no update of the RayService the other host tests run).
        name = raw["metadata"].get("name")
        if name == "ray-serve-app" or (isinstance(name, str) and name.startswith("ray-serve")):
            raw["metadata"]["name"] = name.replace("ray-serve", "lint-dry", 1)
        raw["metadata"].pop("namespace", None)
        text = yaml.safe_dump(raw, sort_keys=False)
    findings = lint.lint_text(text)
    mine = _server_level(findings, raw, served_crd)
    done = addons.kubectl(
        "-n", NAMESPACE, "apply", "--dry-run=server", "--validate=strict", "-f", "-", stdin=text, check=False
    )
    refused = done.returncode != 0
    server = (done.stderr or done.stdout).strip()
    if isinstance(raw, dict) and raw.get("apiVersion") != "ray.io/v1":
        # Another version the CRD may still serve (v1.6.1 serves v1alpha1, with its own older schema): the linter
        # checks ray.io/v1's schema only and refuses every other version itself (api-version), whatever the server
        # says of that version's schema.
        assert any(f.rule == "api-version" and f.severity == "error" for f in findings), where
        return
    assert refused == bool(mine), (
        f"{where}: the API server {'refused' if refused else 'accepted'} it ({server[:600]}), "
        f"the linter's server-level findings: {[str(f) for f in mine] or 'none'}; all findings: "
        f"{[str(f) for f in findings]}"
    )
    if refused:  # what the server refuses is refused before apply, whatever the rule
        assert any(f.severity == "error" for f in findings), where
