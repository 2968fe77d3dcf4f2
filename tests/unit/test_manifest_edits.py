"""Lessons change manifests through helpers, never by writing into manifests/."""

import pytest

from helpers import config
from helpers.manifests import (
    ManifestError,
    diff,
    load_manifest,
    with_app_env,
    with_deployment_options,
    with_import_path,
    with_pod_env,
    with_user_config,
)

HELLO = load_manifest("manifests/ray-service.yaml")


def hello_app(manifest):
    return manifest.applications[0]


def test_edits_return_validated_copies_and_leave_the_file_alone():
    before = (config.MANIFESTS_DIR / "ray-service.yaml").read_text()
    edited = with_user_config(HELLO, "hello", "Hello", {"greeting": "Bonjour"})
    assert hello_app(edited)["deployments"][0]["user_config"] == {"greeting": "Bonjour"}
    assert hello_app(HELLO)["deployments"][0]["user_config"] == {"greeting": "Hello"}
    assert edited.source == "ray-service.yaml (edited)"
    assert (config.MANIFESTS_DIR / "ray-service.yaml").read_text() == before


def test_env_import_path_and_options():
    v2 = with_app_env(HELLO, "hello", {"APP_VERSION": "v2"})
    assert hello_app(v2)["runtime_env"]["env_vars"] == {"APP_VERSION": "v2"}
    assert hello_app(with_import_path(v2, "hello", "hello_app:other"))["import_path"] == "hello_app:other"
    spread = with_deployment_options(HELLO, "hello", "Hello", max_replicas_per_node=1)
    assert hello_app(spread)["deployments"][0]["max_replicas_per_node"] == 1


def test_pod_env_changes_every_ray_container_and_nothing_in_serve():
    changed = with_pod_env(HELLO, {"TUTORIAL_CLUSTER_REVISION": "2"})
    cluster = changed.cluster_config
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        assert {"name": "TUTORIAL_CLUSTER_REVISION", "value": "2"} in group["template"]["spec"]["containers"][0]["env"]
    assert changed.serve_config == HELLO.serve_config


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda: with_user_config(HELLO, "hallo", "Hello", {}),
            "no application 'hallo' in serveConfigV2: choose one of hello",
        ),
        (lambda: with_user_config(HELLO, "hello", "Hallo", {}), "application 'hello' has no deployment 'Hallo'"),
        (lambda: with_deployment_options(HELLO, "hello", "Hello", num_replicas=-1), "num_replicas"),
        (lambda: with_import_path(HELLO, "hello", "no-colon"), "import_path"),
    ],
)
def test_bad_edits_are_refused_with_a_specific_message(edit, message):
    with pytest.raises(ManifestError) as info:
        edit()
    assert any(message in p for p in info.value.problems), info.value.problems


def test_diff_shows_only_the_edit_as_a_unified_diff_of_the_yaml_files():
    bonjour = with_user_config(HELLO, "hello", "Hello", {"greeting": "Bonjour"})
    text = diff(HELLO, bonjour)
    lines = text.splitlines()
    assert lines[:2] == ["--- a/ray-service.yaml", "+++ b/ray-service.yaml"]
    assert lines[2].startswith("@@ ")
    changed = [line for line in lines[2:] if line[:1] in "+-" and not line.startswith("@@")]
    # The Serve config stays a `|` block, indented as in the file: only the edited line changes.
    assert changed == ["-              greeting: Hello", "+              greeting: Bonjour"]
    assert "  serveConfigV2: |" in HELLO.to_yaml()
    assert text.endswith("\n")


def test_diff_of_each_kind_of_update_names_the_changed_lines():
    spread = with_deployment_options(HELLO, "hello", "Hello", max_replicas_per_node=1)
    assert [line for line in diff(HELLO, spread).splitlines() if line.startswith("+ ")] == [
        "+            max_replicas_per_node: 1"
    ]
    v2 = with_app_env(spread, "hello", {"APP_VERSION": "v2"})
    assert "-            APP_VERSION: v1\n+            APP_VERSION: v2\n" in diff(spread, v2)
    broken = with_import_path(v2, "hello", "hello_app:no_such_app")
    assert "+        import_path: hello_app:no_such_app\n" in diff(v2, broken)
    upgraded = with_pod_env(v2, {"TUTORIAL_CLUSTER_REVISION": "2"})
    added = [line for line in diff(v2, upgraded).splitlines() if line.startswith("+ ")]
    groups = 1 + len(HELLO.cluster_config["workerGroupSpecs"])
    assert added.count("+            - name: TUTORIAL_CLUSTER_REVISION") == groups
    # A rollback is the reverse diff; no change, no diff.
    assert diff(broken, v2).count("-        import_path: hello_app:no_such_app") == 1
    assert diff(v2, v2) == ""
    assert diff(HELLO, spread, name="my-service.yaml").startswith("--- a/my-service.yaml\n+++ b/my-service.yaml\n")
