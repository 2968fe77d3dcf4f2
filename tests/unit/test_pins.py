"""One Ray version everywhere, and a lock that keeps protobuf below 7.

Ray 2.55.1 with protobuf 7.x fails every Serve deploy (DEPLOY_FAILED: 'FieldDescriptor' object has no
attribute 'label'); a loose install picks protobuf 7, so the whole resolved environment is locked.
"""

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


def test_pinned_ray_is_not_affected_by_cve_2026_27482():
    """Ray <= 2.53 has unauthenticated DELETE endpoints (GHSA-q5fh-2hc8-f6rq, fixed in 2.54.0), and token
    authentication needs Ray >= 2.52 (KubeRay's authOptions check)."""
    from helpers import lint

    version = tuple(int(x) for x in config.RAY_VERSION.split("."))
    assert version >= lint.FIRST_FIXED_RAY >= (2, 52, 0)


def test_ray_imports_without_rfc3987_syntax():
    """jsonschema imports rfc3987-syntax whenever it is installed, and it builds a grammar for 2.1 s at import;
    every Ray process (dashboard modules, agents, Serve's controller, proxies, replicas) imports jsonschema. The
    lock leaves it (and its lark) out, and the Makefile installs the lock with --no-deps so nothing adds it back."""
    import importlib.util

    assert importlib.util.find_spec("rfc3987_syntax") is None
    assert not re.search(r"^(rfc3987-syntax|lark)==", LOCK, re.M | re.I)
    makefile = (config.PROJECT_ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps -r requirements.lock" in makefile
