"""The kind-e2e workflow, checked by structure (actionlint does not install here: it downloads a binary).

Versions pinned and consistent with helpers/config.py; images loaded before the lessons; the executed
notebooks uploaded; the kind cluster bound to 127.0.0.1.
"""

from __future__ import annotations

import re

import yaml

from helpers import config

WORKFLOW = config.PROJECT_ROOT / ".github" / "workflows" / "kind-e2e.yml"


def steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    assert job["timeout-minutes"] <= 90
    return job["steps"]


def step(uses: str) -> dict:
    (found,) = [s for s in steps() if s.get("uses", "").startswith(uses + "@")]
    return found


def minor(version: str) -> int:
    return int(re.search(r"v1\.(\d+)\.", version).group(1))


def test_every_action_is_pinned_to_a_major_version():
    for s in steps():
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+){0,2}", s["uses"]), s["uses"]


def test_tool_versions_are_pinned_and_consistent():
    kind = step("helm/kind-action")["with"]
    assert kind["version"] == config.KIND_VERSION
    assert kind["kubectl_version"] == config.KUBECTL_VERSION
    assert step("azure/setup-helm")["with"]["version"] == config.HELM_VERSION
    assert config.HELM_VERSION.startswith("v3.")
    # kind v0.30.0's default node image; kubectl within one minor version of the node's Kubernetes.
    assert config.KIND_VERSION == "v0.30.0" and config.KIND_NODE_IMAGE == "kindest/node:v1.34.0"
    assert abs(minor(config.KUBECTL_VERSION) - minor(config.KIND_NODE_IMAGE.split(":")[1] + ".")) <= 1


def test_images_are_loaded_before_the_lessons_and_the_notebooks_uploaded():
    runs = [s.get("run", "") for s in steps()]
    prep = next(i for i, r in enumerate(runs) if "make workshop-prep" in r)
    lessons = next(i for i, r in enumerate(runs) if "make test-kind" in r)
    assert prep < lessons
    uploads = [s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@")]
    notebooks = [s for s in uploads if "build/kind-notebooks" in s["with"]["path"]]
    assert notebooks and notebooks[0]["if"] == "always()"
    assert steps()[-1].get("if") == "always()" and "make down BACKEND=kind" in steps()[-1]["run"]


def test_the_kind_cluster_binds_only_to_loopback():
    kind_config = yaml.safe_load((config.MANIFESTS_DIR / "kind-config.yaml").read_text())
    assert kind_config["networking"]["apiServerAddress"] == "127.0.0.1"
    for node in kind_config["nodes"]:
        for mapping in node.get("extraPortMappings") or []:
            assert mapping.get("listenAddress") == "127.0.0.1", mapping
