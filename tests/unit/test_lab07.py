"""Lab 07's grader without a cluster: the diagnosis file, and a wrong or unfinished one touches nothing."""

from __future__ import annotations

import shutil

import pytest

from helpers import checks, config, debugging, lab07_debugging, load_manifest


@pytest.fixture()
def answers(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    return tmp_path


class Untouchable:
    """A backend the grader must not use: any attribute read fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the grader used the backend ({name}) before the diagnosis was right")


def written(path, **causes):
    text = path.read_text()
    for app, cause in causes.items():
        text = text.replace(f"  {app.replace('_', '-')}:\n", f"  {app.replace('_', '-')}: {cause}\n")
    path.write_text(text)


def test_start_writes_the_diagnosis_file_and_the_broken_copy_and_keeps_both(answers, capsys):
    path = checks.lab07_start()
    copy = answers / lab07_debugging.MANIFEST_FILE
    assert path == answers / "lab07-diagnosis.yaml" and copy.read_text() == lab07_debugging.BROKEN.read_text()
    assert "route, import, resources, volume, image, secret" in path.read_text()
    path.write_text(path.read_text() + "# mine\n")
    copy.write_text("edited")
    checks.lab07_start()
    assert path.read_text().endswith("# mine\n") and copy.read_text() == "edited"
    assert "kept" in capsys.readouterr().out


def test_the_broken_manifest_is_lesson_03s_with_one_fault_per_application():
    broken = load_manifest(lab07_debugging.BROKEN)
    fixed = load_manifest(config.MANIFESTS_DIR / "ray-service-multi.yaml")
    assert broken.cluster_config == fixed.cluster_config
    apps = {a["name"]: a for a in broken.applications}
    good = {a["name"]: a for a in fixed.applications}
    changed = {name for name in good if apps[name] != good[name]}
    assert changed == set(lab07_debugging.FAULTS)
    assert apps["hello"]["route_prefix"] != lab07_debugging.CLIENTS["hello"][0]
    assert apps["predict-a"]["import_path"] != good["predict-a"]["import_path"]
    assert apps["predict-b"]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1
    assert set(lab07_debugging.FAULTS.values()) <= set(debugging.CAUSES)


@pytest.mark.parametrize(
    "causes, hint",
    [
        ({}, "hello: write one of route, import, resources, volume, image, secret, not nothing."),
        ({"hello": "route", "predict_a": "typo"}, "predict-a: write one of"),
        ({"hello": "route", "predict_a": "import", "predict_b": "image"}, "predict-b: the signs do not point to image"),
        ({"hello": "import", "predict_a": "import", "predict_b": "resources"}, "route table"),
    ],
)
def test_a_wrong_or_unfinished_diagnosis_gets_its_hint_and_applies_nothing(answers, causes, hint):
    path = checks.lab07_start()
    written(path, **causes)
    result = checks.lab07(Untouchable(), path)
    assert not result.passed and hint in result.hint


def test_the_diagnosis_file_must_hold_a_diagnosis_and_name_a_fixed_manifest_that_exists(answers):
    path = checks.lab07_start()
    path.write_text("diagnosis: [route]\n")
    assert "under `diagnosis:`" in checks.lab07(Untouchable(), path).hint
    path.write_text("diagnosis: {hello: route\n")
    assert "not valid YAML" in checks.lab07(Untouchable(), path).hint
    path.write_text("diagnosis: {hello: route, predict-a: import, predict-b: resources}\nfixed_manifest: gone.yaml\n")
    assert "fixed_manifest: gone.yaml is not there" in checks.lab07(Untouchable(), path).hint
    (answers / "lab07-diagnosis.yaml").unlink()
    assert "does not exist yet" in checks.lab07(Untouchable(), path).hint


def test_the_solution_names_the_three_causes_and_lesson_03s_manifest(answers):
    path = checks.lab07_start()
    shutil.copyfile(config.PROJECT_ROOT / "labs" / "solutions" / "lab07.yaml", path)
    diagnosis, fixed, problem = lab07_debugging.read_diagnosis(path)
    assert not problem and diagnosis == lab07_debugging.FAULTS
    assert fixed == config.MANIFESTS_DIR / "ray-service-multi.yaml"
    assert lab07_debugging.diagnosis_hint(diagnosis) == ""


def test_a_fix_that_drops_an_application_is_refused_before_it_is_applied(answers):
    path = checks.lab07_start()
    written(path, hello="route", predict_a="import", predict_b="resources")
    (answers / lab07_debugging.MANIFEST_FILE).write_text((config.MANIFESTS_DIR / "ray-service.yaml").read_text())
    result = checks.lab07(Untouchable(), path)
    assert not result.passed and "keep the three applications" in result.hint


def test_an_apply_the_backend_refuses_is_a_hint_not_a_traceback(answers):
    from helpers.errors import BackendError

    class Refusing:
        def apply(self, manifest):
            raise BackendError("The running cluster has another shape: run `make reset` first.\nmore")

    path = checks.lab07_start()
    shutil.copyfile(config.PROJECT_ROOT / "labs" / "solutions" / "lab07.yaml", path)
    result = checks.lab07(Refusing(), path)
    assert not result.passed and result.hint == "The running cluster has another shape: run `make reset` first."
