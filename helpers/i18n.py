"""The helpers' messages in the learner's language: English (the default) or Korean (한국어).

The language is the lesson's ``TUTORIAL_LANG`` parameter (the Korean notebooks in ``notebooks/ko/`` and
``labs/ko/`` set ``TUTORIAL_LANG = "ko"`` in their parameters cell), else the ``TUTORIAL_LANG`` environment
variable (``make run TUTORIAL_LANG=ko``), else English. ``LANG`` is not read: every shell sets it (the locale).

Translation works as gettext does: each message the learner reads is written once, where the code says it, as
an English template with named placeholders, and looked up in the learner's language *before* it is filled in::

    from helpers.i18n import _
    print(_("Your file: {path} (kept; start(..., reset=True) starts over)", path=shown))

The Korean lives as data in ``helpers/locale/ko/LC_MESSAGES/helpers.po`` (msgid: the English template, msgstr:
its Korean, with the same placeholders), read once with Babel. A message the catalog lacks prints in English.
A message that quotes another (a lab hint quoting a lint finding) gets the inner one already translated: each
is translated where it is made. Text kept in a table and translated later (the lab titles) is marked with
``N_()``, which returns it unchanged, so the catalog test still finds it. ``tests/unit/test_i18n.py`` extracts
every ``_()``/``N_()`` message of ``helpers/`` and fails on one the catalog lacks, on an entry no code uses,
and on placeholders that differ between the code, the msgid and the msgstr.

``use_english_folder()`` (called by a Korean notebook's parameters cell, never on import) makes its working
directory the English notebook's folder, so its code cells, identical to the English ones, find ``../manifests/``.
"""

from __future__ import annotations

import functools
import os
import string
import sys
from pathlib import Path

ENV = "TUTORIAL_LANG"  # the environment variable, and the lessons' parameter of the same name
LANGUAGES = ("en", "ko")
DEFAULT = "en"
EDITION_FOLDER = "ko"  # notebooks/ko/, labs/ko/


def normalize(value: object) -> str:
    """'ko', 'KO', 'ko_KR', 'ko-KR' -> 'ko'; anything unknown or empty -> 'en'."""
    code = str(value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT


def _notebook_parameter() -> object:
    """The ``TUTORIAL_LANG`` variable of the running notebook, when the helpers run in an IPython kernel."""
    ipython = sys.modules.get("IPython")  # not imported: not in a kernel, nothing to look up
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return getattr(shell, "user_ns", {}).get(ENV) if shell is not None else None


def lang() -> str:
    """The language of the helpers' messages: the lesson's parameter, else $TUTORIAL_LANG, else English."""
    parameter = _notebook_parameter()
    return normalize(parameter if parameter else os.environ.get(ENV))


# -- the catalog ----------------------------------------------------------------------------------------------------

LOCALE_DIR = Path(__file__).parent / "locale"  # <language>/LC_MESSAGES/helpers.po
DOMAIN = "helpers"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def messages(language: str) -> dict[str, str]:
    """msgid -> msgstr of the language's catalog (empty for English, the language the code is written in).
    Entries without a translation, or marked fuzzy (not yet checked), are left out: they print in English."""
    if language == DEFAULT:
        return {}
    from babel.messages.pofile import read_po  # only a Korean run reads a catalog

    with catalog_path(language).open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id and m.string and not m.fuzzy}


def _(message: str, /, **values: object) -> str:
    """``message`` (an English template) in the learner's language, then filled in with ``values``:
    ``_("{count} cores", count=4)`` -> "4 cores", or "코어 4개" with TUTORIAL_LANG=ko. The template is always
    filled in (``{{`` prints ``{``), so a message without placeholders may not hold a lone brace."""
    return messages(lang()).get(message, message).format(**values)


def N_(message: str) -> str:
    """Marks an English template kept somewhere and translated later with ``_(kept)``; returns it unchanged."""
    return message


_FORMATTER = string.Formatter()


def fields(template: str) -> list[str]:
    """The {placeholders} of a template, in order (repeats included): the catalog test compares them."""
    return [name for _text, name, _spec, _conv in _FORMATTER.parse(template) if name is not None]


# -- the Korean notebooks' working directory -------------------------------------------------------------------------


def english_folder(folder: Path) -> Path:
    """notebooks/ko -> notebooks, labs/ko -> labs (the folder of the English notebook); any other folder as is."""
    if folder.name == EDITION_FOLDER and folder.parent.name in ("notebooks", "labs"):
        return folder.parent
    return folder


def use_english_folder() -> None:
    """In a Korean notebook's kernel (working directory notebooks/ko/ or labs/ko/), change to the English
    notebook's folder: the code cells are the English ones, and they read ``../manifests/...``."""
    try:
        here = Path.cwd()
    except OSError:  # the working directory was deleted
        return
    there = english_folder(here)
    if there != here and (there.parent / "helpers").is_dir():
        os.chdir(there)
