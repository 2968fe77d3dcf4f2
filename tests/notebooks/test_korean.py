"""A Korean lab end to end (papermill, working directory the Korean notebook's folder): lab 01, which needs no
Ray cluster. The helpers' messages come out in Korean because the Korean notebook's parameters cell says
TUTORIAL_LANG = "ko" (no environment variable set here). `make run TUTORIAL_LANG=ko`, which also sets the
variable, runs lesson 00 in test_notebooks.py::test_make_run_in_korean (after the labs: it stops the cluster)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner, translate

pytestmark = pytest.mark.notebooks

LAB01 = config.PROJECT_ROOT / "labs" / "ko" / "lab01_fix_manifest.ipynb"


@pytest.fixture(autouse=True)
def no_language_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("TUTORIAL_LANG", raising=False)
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path / "answers"))  # never labs/answers/


def outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or "".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_korean_lab01_hint_then_pass(tmp_path):
    """The starting file (the article's manifest): the check gives its ❌ hint in Korean and the linter reports
    in Korean; with the solution as the answer file, ✅ in Korean. Paths: the lab's code finds the broken
    manifest from labs/ko/ as from labs/."""
    result = runner.run_notebook(LAB01, tmp_path / "start", {"BACKEND": "local"})
    assert result.status == "ok", result.detail
    text = outputs(tmp_path / "start" / LAB01.name)
    assert "❌ lab01 아직 아닙니다. 힌트: [api-version] apiVersion ray.io/v1alpha1은" in text
    assert ": 오류 4개, 경고 2개" in text and "  오류 [camel-case-keys] spec.serveConfigV2가 camelCase 키를" in text
    assert "내 파일: " in text
    answers = Path(os.environ["RAYSERVICE_TUTORIAL_LABS_ANSWERS"])
    shutil.copyfile(runner.lab_solution(LAB01.parent.parent / LAB01.name), answers / "lab01-ray-service.yaml")
    result = runner.run_notebook(LAB01, tmp_path / "solved", {"BACKEND": "local", "STRICT": True})
    assert result.status == "ok", result.detail
    text = outputs(tmp_path / "solved" / LAB01.name)
    assert "✅ lab01 통과: 원문 매니페스트 고치기" in text and "lint: 오류 없음, 경고 없음" in text


def test_korean_notebooks_are_the_build():
    """What these runs executed is what the translation files make (the unit tests say which cell is stale)."""
    assert not translate.out_of_date([config.NOTEBOOKS_DIR / "00_setup.ipynb", LAB01.parent.parent / LAB01.name])
