"""Preflight's memory: what each lesson needs, from the repository's manifests and notebooks.

A lesson that changes rayClusterConfig (05 upgrades the cluster) needs room for two RayClusters: KubeRay keeps
the old one until the new one is promoted, plus rayClusterDeletionDelaySeconds (60 s by default).
"""

from __future__ import annotations

import copy

import nbformat
import pytest

from helpers import preflight
from helpers.manifests import load_manifest, validate

from ..fakes import FakeCommands

HELLO = load_manifest("manifests/ray-service.yaml")
MULTI = load_manifest("manifests/ray-service-multi.yaml")


def test_the_repositorys_manifests_one_cluster_and_two():
    # head 3Gi + one worker replica of 2Gi (requests = limits in both manifests)
    assert preflight.manifest_memory_gib(HELLO) == 5.0
    assert preflight.manifest_memory_gib(MULTI) == 5.0
    # + the operator 0.5 + the kind node 1.0
    assert preflight.memory_needed(HELLO, upgrade=False) == 6.5
    assert preflight.memory_needed(HELLO, upgrade=True) == 11.5
    assert preflight.memory_needed(HELLO, upgrade=True, kind_node=False) == 10.5


def test_each_pod_counts_the_larger_of_request_and_limit_of_every_container_and_every_replica():
    raw = copy.deepcopy(HELLO.raw)
    cluster = raw["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"]
    head[0]["resources"] = {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    head.append({"name": "sidecar", "image": "busybox", "resources": {"requests": {"memory": "512Mi"}}})
    cluster["workerGroupSpecs"][0]["replicas"] = 2
    cluster["workerGroupSpecs"][0]["maxReplicas"] = 2
    manifest = validate(raw, "edited")
    assert preflight.manifest_memory_gib(manifest) == 2 + 0.5 + 2 * 2


def test_the_lesson_table_comes_from_the_notebooks():
    table = {lesson.notebook: lesson for lesson in preflight.lessons()}
    assert table["05_rolling_updates"].upgrade and "rayClusterConfig" in table["05_rolling_updates"].why
    assert table["05_rolling_updates"].manifest == "manifests/ray-service.yaml"
    assert not table["02_deploy_rayservice"].upgrade
    assert table["03_routing"].manifest == "manifests/ray-service-multi.yaml"
    assert "00_setup" not in table  # no manifest: nothing runs yet
    memory = dict((lesson.notebook, need) for lesson, need in preflight.lesson_memory())
    assert memory["02_deploy_rayservice"] == 6.5 and memory["05_rolling_updates"] == 11.5


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def test_a_lesson_applying_over_a_cluster_left_upgraded_needs_room_too(tmp_path):
    params = 'MANIFEST = "../manifests/ray-service.yaml"'
    _notebook(tmp_path / "01_a.ipynb", params, "backend.apply(manifest)")
    _notebook(tmp_path / "02_b.ipynb", params, "backend.apply(m)", "scenarios.cluster_upgrade(backend, m, '2')")
    _notebook(tmp_path / "03_c.ipynb", params, "backend.apply(manifest)")  # builds yet another cluster
    _notebook(tmp_path / "04_d.ipynb", params, "backend.upgrade_cluster(m, '3')", "backend.apply(manifest)")
    _notebook(tmp_path / "05_e.ipynb", params, "backend.apply(manifest)")  # 04 put the manifest back itself
    upgrades = {lesson.notebook: lesson.upgrade for lesson in preflight.lessons(tmp_path)}
    assert upgrades == {"01_a": False, "02_b": True, "03_c": True, "04_d": True, "05_e": False}
    assert "02_b upgraded" in preflight.lessons(tmp_path)[2].why


def test_docker_below_what_the_lesson_needs_fails_and_says_how_to_raise_it():
    check = preflight.memory_check(8.0, HELLO, upgrade=True)
    assert not check.ok
    assert check.name == "memory for Docker >= 11.5 GiB (ray-serve-app, two RayClusters during the upgrade)"
    assert "Docker has 8.0 GiB, the lesson needs 11.5 GiB" in check.detail
    assert "Docker Desktop -> Settings -> Resources -> Memory" in check.detail
    assert "✗ memory for Docker" in preflight.report([check])


def test_enough_for_one_cluster_only_is_a_warning_naming_the_upgrade():
    check = preflight.memory_check(8.0, HELLO)
    assert check.ok and check.warning
    assert "not for a cluster upgrade (lessons 04b and 05 need 11.5 GiB)" in check.detail
    assert not preflight.memory_check(4.0, HELLO).ok
    roomy = preflight.memory_check(12.0, HELLO)
    assert roomy.ok and not roomy.warning and roomy.detail == "Docker has 12.0 GiB"


@pytest.mark.parametrize(("have", "ok"), [(8, False), (12, True)])
def test_without_a_manifest_preflight_checks_every_lesson(have, ok):
    commands = FakeCommands(responses={("docker", "info"): (0, f"28.2.2 {have * 2**30}", "")})
    (memory,) = [c for c in preflight.kind_checks(commands) if c.name.startswith("memory")]
    assert memory.ok is ok
    assert memory.name.startswith("memory for Docker >= 11.5 GiB (every lesson; 04b_head_failure needs the most")


def test_the_readme_table_has_every_lesson():
    text = preflight.memory_table()
    for lesson in preflight.lessons():
        assert f"| `{lesson.notebook}` | `{lesson.manifest}` |" in text
    assert "| 11.5 GiB | 10.0 GiB |" in text and "| 6.5 GiB | 5.0 GiB |" in text


def test_the_namespace_quota_fits_the_upgrade_and_a_replacement_pod():
    quota = preflight.namespace_quota()
    assert quota == {
        "limits.cpu": "5",
        "limits.memory": "13Gi",
        "pods": "5",
        "requests.cpu": "1",
        "requests.memory": "13Gi",
    }


def test_the_readmes_memory_table_is_generated_from_the_lessons():
    from helpers import config

    readme = (config.PROJECT_ROOT / "README.md").read_text()
    block = readme.split("<!-- memory:table -->\n", 1)[1].split("<!-- /memory -->", 1)[0]
    assert block.strip() == preflight.memory_table().strip(), "paste helpers.preflight.memory_table() into README.md"
