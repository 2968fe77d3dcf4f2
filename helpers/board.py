"""A live status board of the RayService: Ready condition, applications, deployments, replicas
per state, and the Ray nodes (pods).

In JupyterLab it is an ipywidgets view refreshed in the background until ``stop()`` (or the end
of a ``with`` block); run headless (papermill, nbval, scripts; ``RAYSERVICE_HEADLESS=1``) it prints
the same content once as a plain-text table.
"""

from __future__ import annotations

import html
import os
import threading
from typing import Any

from helpers import display
from helpers.errors import BackendError

HEADLESS_VAR = "RAYSERVICE_HEADLESS"


def headless() -> bool:
    """True unless we run in a Jupyter kernel with a frontend that can show widgets."""
    if os.environ.get(HEADLESS_VAR) == "1":
        return True
    try:
        from IPython import get_ipython

        return get_ipython().__class__.__name__ != "ZMQInteractiveShell"
    except ImportError:
        return True


class StatusBoard:
    def __init__(self, backend, interval: float = 2.0, live: bool | None = None):
        self.backend = backend
        self.interval = interval
        self.live = (not headless()) if live is None else live
        self.widget = None
        self.updates = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- content -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        try:
            status = self.backend.status()
        except BackendError as exc:
            return {"error": str(exc).splitlines()[0]}
        try:
            nodes = self.backend.nodes_table()
        except BackendError as exc:
            nodes = str(exc).splitlines()[0]
        return {"status": status, "nodes": nodes}

    def text(self, snap: dict[str, Any] | None = None) -> str:
        snap = snap or self.snapshot()
        if "error" in snap:
            return f"RayService status board: {snap['error']}"
        return f"{display.status_table(snap['status'])}\n\nRay nodes\n{snap['nodes']}"

    def html(self, snap: dict[str, Any] | None = None) -> str:
        snap = snap or self.snapshot()
        if "error" in snap:
            return f"<div class='rst-board'><b>RayService status board</b>: {html.escape(snap['error'])}</div>"
        status = snap["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        colour = "#1a7f37" if ready["status"] == "True" else "#cf222e"
        rows = []
        for app_name, app in status["activeServiceStatus"]["applicationStatuses"].items():
            for dep_name, dep in app["serveDeploymentStatuses"].items():
                states = ", ".join(f"{k} {v}" for k, v in dep["replicaStates"].items()) or "-"
                rows.append(
                    f"<tr><td>{html.escape(app.get('routePrefix') or '-')}</td><td>{html.escape(app_name)}"
                    f"</td><td>{app['status']}</td><td>{html.escape(dep_name)}</td><td>{dep['status']}</td>"
                    f"<td>{states} (target {dep['targetReplicas']})</td></tr>"
                )
        return (
            "<div class='rst-board' style='font-family:monospace'>"
            f"<div><b>RayService {html.escape(status['serviceName'])}</b>: "
            f"<span style='color:{colour}'>Ready={ready['status']} ({ready['reason']})</span>, "
            f"{status['numServeEndpoints']} serve endpoint(s)</div>"
            "<table style='border-spacing:12px 2px'><tr><th>prefix</th><th>application</th><th>status</th>"
            "<th>deployment</th><th>status</th>"
            f"<th>replicas</th></tr>{''.join(rows)}</table>"
            f"<pre>{html.escape(snap['nodes'])}</pre>"
            f"<div style='color:grey'>refreshed every {self.interval:g} s</div></div>"
        )

    # -- showing ----------------------------------------------------------------------------

    def show(self) -> StatusBoard:
        """Display the board: a live widget in JupyterLab, a plain-text table when headless."""
        if not self.live:
            print(self.text())
            return self
        import ipywidgets
        from IPython.display import display as ipy_display

        self.widget = ipywidgets.HTML(value=self.html())
        ipy_display(self.widget)
        self._thread = threading.Thread(target=self._refresh, daemon=True, name="status-board")
        self._thread.start()
        return self

    def _refresh(self) -> None:
        while not self._stop.wait(self.interval):
            self.widget.value = self.html()
            self.updates += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> StatusBoard:
        return self.show()

    def __exit__(self, *exc) -> None:
        self.stop()
