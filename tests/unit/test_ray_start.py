"""The local head's `ray start` launcher: the dashboard whole by default, lean when asked, bad settings refused."""

from __future__ import annotations

import inspect

import pytest

from helpers.backends import BackendError, ray_start
from helpers.backends.local import LocalBackend


@pytest.mark.parametrize("value", [None, "", "full", " Full "])
def test_the_whole_dashboard_is_the_default(value):
    assert ray_start.dashboard_modules(value) is None


def test_lean_keeps_the_modules_the_tutorial_calls():
    assert ray_start.dashboard_modules("lean") == ("UsageStatsHead", "ServeHead", "NodeHead", "JobHead")


def test_a_bad_setting_says_what_to_write():
    with pytest.raises(ray_start.DashboardSettingError) as err:
        ray_start.dashboard_modules("minimal")
    message = str(err.value)
    assert "RAYSERVICE_TUTORIAL_DASHBOARD='minimal' is not a dashboard setting" in message
    assert "RAYSERVICE_TUTORIAL_DASHBOARD=full" in message and "RAYSERVICE_TUTORIAL_DASHBOARD=lean" in message


def test_only_the_dashboards_command_line_gains_the_modules():
    calls = []
    start = ray_start.with_modules(lambda command, kind, **kw: calls.append((command, kind, kw)), ("A", "B"))
    start(["python", "dashboard.py", "--port=8265"], "dashboard", fate_share=True)
    start(["raylet", "--x"], "raylet")
    assert calls == [
        (["python", "dashboard.py", "--port=8265", "--modules-to-load=A,B"], "dashboard", {"fate_share": True}),
        (["raylet", "--x"], "raylet", {}),
    ]


def test_the_lean_modules_are_rays_and_the_patch_reaches_the_dashboards_start():
    """Ray's dashboard stops when a requested module does not exist, and the launcher patches the name that
    Ray 2.55's start_api_server calls: both checked against the installed Ray."""
    from ray._private import services
    from ray.dashboard.head import DashboardHead  # noqa: F401 - the module registry below needs it imported
    from ray.dashboard.subprocesses.module import SubprocessModule
    from ray.dashboard.utils import DashboardHeadModule, get_all_modules

    names = {cls.__name__ for kind in (DashboardHeadModule, SubprocessModule) for cls in get_all_modules(kind)}
    assert set(ray_start.LEAN_MODULES) <= names, names
    assert "start_ray_process(" in inspect.getsource(services.start_api_server)


def test_up_refuses_a_bad_setting_before_starting_anything(tmp_path, monkeypatch):
    monkeypatch.setenv(ray_start.ENV, "tiny")
    backend = LocalBackend(state_dir=tmp_path)
    with pytest.raises(BackendError) as err:
        backend.up("manifests/ray-service.yaml")
    assert "is not a dashboard setting" in str(err.value) and "Nothing was started." in str(err.value)
    assert not backend.state_file.exists() and backend.our_processes() == []
