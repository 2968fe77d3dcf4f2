"""`ray start` for the local backend, with the Ray dashboard whole (the default) or lean.

Ray's dashboard starts each of its nine modules (Serve, Nodes, Jobs, State, Metrics, Events, Reports, Data,
Train) as a Python process of its own, and the head is not up until all of them answer. On a 2-core machine
that is most of a head start: 33.6 s whole, 19.6 s lean (one measurement each, on this project's 2-core
machine). Lean keeps only the modules the tutorial's own code calls: ServeHead (``/api/serve/applications/``,
where a RayService's config goes), NodeHead (``/nodes``, the nodes the status shows) and JobHead
(``/api/version``, the readiness probe); the dashboard's web pages for logs, metrics and events stay empty.

``RAYSERVICE_TUTORIAL_DASHBOARD=lean`` asks for it (the test suite does; a workshop on slow laptops may).
Ray 2.55's ``ray start`` has no option for it (it passes ``--modules-to-load`` to the dashboard only with
``--include-dashboard=false``, and then only UsageStatsHead), so this launcher adds that flag to the dashboard's
command line and then runs Ray's own ``ray start``: ``python -m helpers.backends.ray_start start --head ...``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

ENV = "RAYSERVICE_TUTORIAL_DASHBOARD"
LEAN_MODULES = ("UsageStatsHead", "ServeHead", "NodeHead", "JobHead")


class DashboardSettingError(ValueError):
    """RAYSERVICE_TUTORIAL_DASHBOARD holds something other than full or lean."""


def dashboard_modules(value: str | None) -> tuple[str, ...] | None:
    """The dashboard modules to load for a setting: None (every module) for ``full`` or unset."""
    setting = (value or "full").strip().lower()
    if setting == "full":
        return None
    if setting == "lean":
        return LEAN_MODULES
    raise DashboardSettingError(
        f"{ENV}={value!r} is not a dashboard setting. Write {ENV}=full (every module, the default) or "
        f"{ENV}=lean (only {', '.join(LEAN_MODULES[1:])}: the head starts faster, the dashboard's logs, metrics "
        "and events pages stay empty)."
    )


def with_modules(start_ray_process: Callable, modules: Sequence[str]) -> Callable:
    """Ray's ``start_ray_process``, adding ``--modules-to-load`` to the dashboard's command line only."""
    from ray._private import ray_constants

    def start(command, process_type, *args, **kwargs):
        if process_type == ray_constants.PROCESS_TYPE_DASHBOARD:
            command = [*command, "--modules-to-load=" + ",".join(modules)]
        return start_ray_process(command, process_type, *args, **kwargs)

    return start


def main() -> None:
    modules = dashboard_modules(os.environ.get(ENV))
    if modules:
        from ray._private import services

        services.start_ray_process = with_modules(services.start_ray_process, modules)
    from ray.scripts.scripts import main as ray_main

    ray_main()


if __name__ == "__main__":
    main()
