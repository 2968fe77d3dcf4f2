"""The Korean edition (notebooks/ko/, labs/ko/) is built from the English notebooks and one translation file per
notebook (helpers.translate), and kept in step with them: every markdown cell translated from the current
English, code cells identical, the committed Korean notebooks exactly what the build makes."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from helpers import config, runner, translate

ENGLISH = translate.english_notebooks()
LESSONS = runner.lesson_notebooks()
LABS = runner.lab_notebooks()


def ids(path: Path) -> str:
    return path.stem


def test_the_edition_covers_every_lesson_and_lab():
    assert ENGLISH == LESSONS + LABS and len(ENGLISH) == 17
    missing = [
        translate.shown(translate.translation_path(p)) for p in ENGLISH if not translate.translation_path(p).exists()
    ]
    assert not missing, f"no translation file yet: {missing}"
    built = {p for p in (config.NOTEBOOKS_DIR / "ko").glob("*.ipynb")} | {
        p for p in (config.PROJECT_ROOT / "labs" / "ko").glob("*.ipynb")
    }
    assert built == {translate.korean_path(p) for p in ENGLISH}


@pytest.mark.parametrize("english", ENGLISH, ids=ids)
def test_every_markdown_cell_is_translated_from_the_current_english(english):
    if not translate.translation_path(english).exists():
        pytest.skip("not translated yet (test_the_edition_covers_every_lesson_and_lab fails)")
    _, problems = translate.build(english)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("english", ENGLISH, ids=ids)
def test_the_committed_korean_notebook_is_the_build(english):
    if not translate.translation_path(english).exists():
        pytest.skip("not translated yet")
    assert not translate.out_of_date([english]), "run `make ko` (python -m helpers.translate) and commit"


@pytest.mark.parametrize("english", ENGLISH, ids=ids)
def test_code_cells_are_the_english_ones(english):
    """Same cells in the same order with the same ids; code, outputs and metadata identical, except one line in
    the parameters cell: TUTORIAL_LANG = "ko"."""
    korean = translate.korean_path(english)
    if not korean.exists():
        pytest.skip("not translated yet")
    en, ko = (nbformat.read(p, as_version=4) for p in (english, korean))
    assert [(c.id, c.cell_type) for c in ko.cells] == [(c.id, c.cell_type) for c in en.cells]
    assert ko.metadata == en.metadata
    params = 0
    for e, k in zip(en.cells, ko.cells):
        assert k.metadata == e.metadata, e.id
        if e.cell_type != "code":
            continue
        if "parameters" in e.metadata.get("tags", []):
            params += 1
            assert k.source == e.source.rstrip("\n") + "\n" + translate.LANG_LINE
        else:
            assert k.source == e.source, f"code cell {e.id} differs from the English"
        assert k.outputs == e.outputs and k.execution_count == e.execution_count, e.id
    assert params == 1


LESSON_HEADINGS = ("배울 내용", "사전 준비", "소요 시간", "핵심 정리", "스스로 확인")


@pytest.mark.parametrize("english", LESSONS, ids=ids)
def test_korean_lesson_skeleton(english):
    korean = translate.korean_path(english)
    if not korean.exists():
        pytest.skip("not translated yet")
    cells = nbformat.read(korean, as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# {english.stem.split('_')[0]} · ")
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for heading in LESSON_HEADINGS:
        assert heading in text, heading
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"no prose before: {cell.source[:60]!r}"


@pytest.mark.parametrize("english", LABS, ids=ids)
def test_korean_lab_skeleton(english):
    korean = translate.korean_path(english)
    if not korean.exists():
        pytest.skip("not translated yet")
    cells = nbformat.read(korean, as_version=4).cells
    assert cells[0].source.startswith(f"# 실습 {english.stem[3:5]} · ") and "**과제:**" in cells[0].source
    assert f"labs/solutions/{runner.lab_solution(english).name}" in cells[0].source
    assert "<details><summary>힌트" in "\n".join(c.source for c in cells)
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")  # like the English: no outputs


LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")


@pytest.mark.parametrize("english", ENGLISH, ids=ids)
def test_relative_links_resolve_from_the_korean_folder(english):
    """Links to the next lesson stay in the Korean edition; links to files go one folder further up."""
    korean = translate.korean_path(english)
    if not korean.exists():
        pytest.skip("not translated yet")
    for cell in nbformat.read(korean, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for match in LINK.finditer(cell.source):
            target = (match.group(1) or match.group(2)).split("#")[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue
            assert (korean.parent / target).resolve().exists(), f"cell {cell.id}: {target} does not exist"
            if target.endswith(".ipynb"):
                assert "/ko/" in str((korean.parent / target).resolve()), f"cell {cell.id}: {target} is English"


# -- the checks themselves, on a notebook made up for the test --------------------------------------------------


def _english(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · A lesson\nWhat you will learn."),
        nbformat.v4.new_code_cell('BACKEND = "local"\n', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("Run the next cell to see the status."),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell{i}"
    path = tmp_path / "notebooks" / "00_lesson.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def _translate(english: Path, entries: dict[str, tuple[str, str]]) -> None:
    import yaml

    path = translate.translation_path(english)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({k: {"source_hash": h, "ko": ko} for k, (h, ko) in entries.items()}, allow_unicode=True)
    )


def test_build_reports_a_stale_translation_with_notebook_cell_and_words(tmp_path):
    english = _english(tmp_path)
    nb = nbformat.read(english, as_version=4)
    h0, h2 = (translate.source_hash(nb.cells[i].source) for i in (0, 2))
    _translate(english, {"cell0": (h0, "# 00 · 레슨\n배울 내용."), "cell2": (h2, "다음 셀을 실행해 상태를 봅니다.")})
    built, problems = translate.build(english)
    assert problems == []
    assert [c.source for c in built.cells] == [
        "# 00 · 레슨\n배울 내용.",
        'BACKEND = "local"\n' + translate.LANG_LINE,
        "다음 셀을 실행해 상태를 봅니다.",
        "print(1)",
    ]
    nb.cells[2].source = "Run the next cell to see the new status board."
    nbformat.write(nb, english)
    built, problems = translate.build(english)
    assert [(p.cell, p.kind) for p in problems] == [("cell2", "stale")]
    message = str(problems[0])
    assert "00_lesson.ipynb" in message and "cell2" in message and "'Run the next cell to see the new" in message
    assert translate.source_hash(nb.cells[2].source) in message  # the hash to write once it is updated
    assert built.cells[2].source == "다음 셀을 실행해 상태를 봅니다."  # the old Korean until then


def test_build_reports_missing_unused_and_untranslated_cells(tmp_path):
    english = _english(tmp_path)
    nb = nbformat.read(english, as_version=4)
    h0 = translate.source_hash(nb.cells[0].source)
    _translate(english, {"cell0": (h0, "# 00 · A lesson"), "gone": ("0", "사라진 셀")})
    built, problems = translate.build(english)
    assert sorted((p.cell, p.kind) for p in problems) == [
        ("cell0", "not-korean"),
        ("cell2", "missing"),
        ("gone", "unused"),
    ]
    assert built.cells[2].source == nb.cells[2].source  # no translation: the English text, reported


def test_out_of_date_and_code_changes_are_caught(tmp_path):
    english = _english(tmp_path)
    nb = nbformat.read(english, as_version=4)
    _translate(
        english,
        {
            "cell0": (translate.source_hash(nb.cells[0].source), "# 00 · 레슨"),
            "cell2": (translate.source_hash(nb.cells[2].source), "다음 셀"),
        },
    )
    assert translate.write_all([english]) == []
    assert translate.out_of_date([english]) == []
    nb.cells[3].source = "print(2)"  # the English code changed; the Korean notebook was not rebuilt
    nbformat.write(nb, english)
    assert len(translate.out_of_date([english])) == 1
    assert translate.write_all([english]) == [] and translate.out_of_date([english]) == []
    assert nbformat.read(translate.korean_path(english), as_version=4).cells[3].source == "print(2)"


def test_todo_lists_what_to_translate(tmp_path):
    english = _english(tmp_path)
    text = translate.todo(english)
    assert "cell0:" in text and "cell2:" in text and "cell1" not in text
    assert "  ko: |-\n    Run the next cell to see the status." in text


def test_readme_ko_names_every_lesson_and_lab_and_its_links_resolve():
    readme = config.PROJECT_ROOT / "README.ko.md"
    text = readme.read_text()
    assert "README.ko.md" in (config.PROJECT_ROOT / "README.md").read_text().split("\n## ")[0]
    for path in ENGLISH:
        assert f"`{path.stem}`" in text, path.stem
    for heading in ("## 여기서 시작", "## 문제 해결", "## 용어집", "## 원문 글과 레슨의 대응"):
        assert heading in text
    assert "make run TUTORIAL_LANG=ko" in text and "make test" in text
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if not re.match(r"^[a-z]+:", target):
            assert (readme.parent / target).exists(), target
