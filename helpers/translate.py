"""The Korean edition (한국어판), built from the English notebooks and one translation file per notebook.

    python -m helpers.translate           # (make ko) build notebooks/ko/ and labs/ko/; list what needs translating
    python -m helpers.translate --check   # build nothing; exit 1 when a translation is missing or stale, or a
                                          # committed Korean notebook is not what the build makes
    python -m helpers.translate --todo 04b_head_failure  # the cells to (re)translate, as YAML entries to fill in

The English notebook is the one source of truth. ``notebooks/ko/translations/00_setup.yaml`` (and
``labs/ko/translations/lab01_fix_manifest.yaml``...) maps each markdown cell's id to its Korean text and the
hash of the English text it was translated from::

    2c1e4e3a:
      source_hash: 9f8a1b2c3d4e5f60
      ko: |-
        # 00 · 시작하기 ...

The build copies the English notebook (code cells, outputs, ids, metadata) and replaces each markdown cell
with its Korean; the only code that differs is three lines added to the parameters cell (``LANG_LINE``):
``TUTORIAL_LANG = "ko"``, which makes the helpers print in Korean (helpers.i18n), and ``use_english_folder()``,
which runs the code cells in the English notebook's folder. A cell whose English changed after it was
translated keeps its old Korean and is reported as stale; a cell with no translation keeps its English and
is reported as missing. tests/unit/test_korean_edition.py fails on either, and when a committed Korean
notebook differs from what the build makes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from helpers import config, i18n

EDITION = i18n.EDITION_FOLDER  # "ko"
# The two lines the Korean parameters cell adds: the helpers' messages in Korean, and the code cells (the English
# ones, which read ../manifests/ and ../build/) run in the English notebook's folder. Nothing changes the working
# directory on import: the Korean notebook says it does, here.
LANG_LINE = (
    'TUTORIAL_LANG = "ko"  # 한국어판: 헬퍼의 메시지(실습 결과, 힌트, 린터, preflight)도 한국어로\n'
    "from helpers.i18n import use_english_folder\n\n"
    "use_english_folder()  # 코드 셀은 영어판과 같습니다: 영어판 노트북의 폴더(../)에서 실행합니다"
)
FIRST_WORDS = 8


def english_notebooks() -> list[Path]:
    """Every lesson and lab in English: what the Korean edition translates."""
    from helpers import runner

    return runner.lesson_notebooks() + runner.lab_notebooks()


def korean_path(english: Path) -> Path:
    """notebooks/00_setup.ipynb -> notebooks/ko/00_setup.ipynb"""
    return english.parent / EDITION / english.name


def translation_path(english: Path) -> Path:
    """notebooks/00_setup.ipynb -> notebooks/ko/translations/00_setup.yaml"""
    return english.parent / EDITION / "translations" / f"{english.stem}.yaml"


def source_hash(text: str) -> str:
    """The hash a translation stores of the English text it translates (sha256, first 16 hex digits)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_words(text: str, n: int = FIRST_WORDS) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Problem:
    notebook: str  # e.g. notebooks/04a_self_healing.ipynb
    cell: str  # the cell id
    kind: str  # missing | stale | unused | not-korean
    english: str = ""  # the first words of the English text
    detail: str = ""

    def __str__(self) -> str:
        what = {
            "missing": "has no Korean translation",
            "stale": "changed in English since it was translated",
            "unused": "is translated but the English notebook has no such markdown cell",
            "not-korean": "has a translation with no Korean in it",
        }[self.kind]
        text = f"{self.notebook}: cell {self.cell} {what}"
        if self.english:
            text += f" (English: {self.english!r})"
        return text + (f": {self.detail}" if self.detail else "")


def load_translations(path: Path) -> dict[str, dict]:
    """cell id -> {"source_hash": ..., "ko": ...} ({} when the file does not exist yet)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{shown(path)}: expected a mapping of cell id -> {{source_hash, ko}}")
    return {str(k): v for k, v in data.items()}


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def build(english: Path) -> tuple[nbformat.NotebookNode, list[Problem]]:
    """The Korean notebook made from ``english`` and its translation file, and what is missing or stale."""
    nb = nbformat.read(english, as_version=4)
    translations = load_translations(translation_path(english))
    name = shown(english)
    where = shown(translation_path(english))
    problems: list[Problem] = []
    markdown_ids = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            markdown_ids.add(cell.id)
            entry = translations.get(cell.id)
            now = source_hash(cell.source)
            if not isinstance(entry, dict) or not isinstance(entry.get("ko"), str):
                problems.append(
                    Problem(name, cell.id, "missing", first_words(cell.source), f"add it to {where} (hash {now})")
                )
                continue
            if entry.get("source_hash") != now:
                problems.append(
                    Problem(
                        name,
                        cell.id,
                        "stale",
                        first_words(cell.source),
                        f"update its Korean in {where} and set source_hash: {now}",
                    )
                )
            if not _has_hangul(entry["ko"]) and any(ch.isalpha() for ch in cell.source):
                problems.append(Problem(name, cell.id, "not-korean", first_words(cell.source)))
            cell.source = entry["ko"]
        elif cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.rstrip("\n") + "\n" + LANG_LINE
    for cell_id in translations:
        if cell_id not in markdown_ids:
            problems.append(Problem(name, cell_id, "unused", detail=f"remove it from {where}"))
    return nb, problems


def built_text(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"  # what nbformat.write puts in a file


def write_all(notebooks: list[Path] | None = None) -> list[Problem]:
    """Build and write every Korean notebook; returns what needs translating."""
    problems: list[Problem] = []
    for english in notebooks or english_notebooks():
        if not translation_path(english).exists():  # not begun: no Korean notebook made of English text
            where = shown(translation_path(english))
            problems.append(Problem(shown(english), "*", "missing", detail=f"no translation file {where}"))
            continue
        nb, found = build(english)
        target = korean_path(english)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = built_text(nb)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"built {shown(target)}")
        problems += found
    return problems


def out_of_date(notebooks: list[Path] | None = None) -> list[str]:
    """The committed Korean notebooks that differ from what the build makes (or are missing)."""
    stale = []
    for english in notebooks or english_notebooks():
        target = korean_path(english)
        if not target.exists() or target.read_text() != built_text(build(english)[0]):
            stale.append(f"{shown(target)} is not what the build makes: run `make ko` and commit it")
    return stale


def todo(english: Path) -> str:
    """YAML entries for the cells still to translate (missing or stale), the English text as the value to
    replace: paste them into the translation file and translate each ``ko``."""
    translations = load_translations(translation_path(english))
    out = []
    for cell in nbformat.read(english, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        entry = translations.get(cell.id) or {}
        if entry.get("source_hash") == source_hash(cell.source) and isinstance(entry.get("ko"), str):
            continue
        body = "\n".join(("    " + line).rstrip() for line in cell.source.splitlines())
        out.append(f"{cell.id}:\n  source_hash: {source_hash(cell.source)}\n  ko: |-\n{body}\n")
    return "\n".join(out)


def find(name: str) -> Path:
    """An English lesson or lab by name: ``04a``, ``04a_self_healing``, ``lab01`` or a path."""
    stem = Path(name).name.removesuffix(".ipynb")
    match = [p for p in english_notebooks() if p.stem == stem or p.stem.split("_")[0] == stem]
    if len(match) != 1:
        raise SystemExit(f"no English notebook called {name!r}")
    return match[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.translate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="build nothing; exit 1 on any problem")
    parser.add_argument("--todo", nargs="+", metavar="NOTEBOOK", help="print the cells still to translate")
    args = parser.parse_args(argv)
    if args.todo:
        for name in args.todo:
            print(f"# {shown(translation_path(find(name)))}\n{todo(find(name))}")
        return 0
    if args.check:
        problems = [str(p) for e in english_notebooks() for p in build(e)[1]] + out_of_date()
    else:
        problems = [str(p) for p in write_all()]
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the Korean edition (한국어판)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
