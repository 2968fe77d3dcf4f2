"""The pre-commit hooks are real commands that pass on the committed tree (so the config cannot rot)."""

import shlex
import subprocess

import pytest
import yaml

from helpers import config

HOOKS = yaml.safe_load((config.PROJECT_ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_passes_on_the_tree(hook):
    args = shlex.split(hook["entry"])
    if hook.get("pass_filenames", True):
        if hook["id"] == "manifests":
            args += sorted(str(p) for p in config.MANIFESTS_DIR.glob("ray-service*.yaml"))
        else:
            args += ["."]
    result = subprocess.run(args, cwd=config.PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
