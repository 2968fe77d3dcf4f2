"""One Ray version everywhere, and a lock that keeps protobuf below 7 (DESIGN.md §4)."""

import re

import tomllib

from helpers import config

PYPROJECT = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
LOCK = (config.PROJECT_ROOT / "requirements.lock").read_text()


def pinned(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==([^\s;]+)", LOCK, re.M | re.I)
    assert match, f"{name} is not pinned in requirements.lock"
    return match.group(1)


def test_ray_pin_is_the_config_constant():
    assert f"ray[serve]=={config.RAY_VERSION}" in PYPROJECT["project"]["dependencies"]
    assert pinned("ray") == config.RAY_VERSION
    assert config.RAY_IMAGE == f"rayproject/ray:{config.RAY_VERSION}"


def test_protobuf_is_locked_below_7():
    assert int(pinned("protobuf").split(".")[0]) < 7


def test_every_top_level_dependency_is_exact_and_locked():
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?==(\S+)", requirement).groups()
        assert pinned(name) == version, requirement


def test_installed_versions_match_the_lock():
    from importlib import metadata

    for name in ("ray", "protobuf", "papermill", "nbval", "pydantic"):
        assert metadata.version(name) == pinned(name)
