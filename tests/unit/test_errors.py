"""Mistakes the helpers understand are shown in a notebook as their message, never a helper traceback."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import runner, status
from helpers.errors import BackendError
from helpers.manifests import ManifestError
from helpers.progress import WaitTimeout


@pytest.mark.parametrize(
    "error",
    [
        ManifestError("my.yaml", ["serveConfigV2 must be a string: write `serveConfigV2: |`"]),
        BackendError("port 8000 is in use by nginx (pid 7): stop it or pick another port"),
        WaitTimeout("Waited 5 s for RayService x to be Ready; last state: hello DEPLOYING.\nWhat Serve says: ..."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_rendered_traceback_is_the_message(error):
    lines = error._render_traceback_()
    assert type(error).__name__ in lines[0] and str(error).splitlines()[0] in lines[0]
    assert lines[1:] == str(error).splitlines()[1:]
    assert isinstance(error, (ValueError, RuntimeError, TimeoutError))  # callers' except clauses still match


def test_a_real_kernel_shows_the_message_and_no_helper_frames(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from helpers import load_manifest\n"
            "load_manifest('apiVersion: ray.io/v1alpha1\\nkind: RayService\\nmetadata: {name: x}\\nspec: {}')"
        )
    ]
    client = NotebookClient(nb, kernel_name=runner.KERNEL, resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    (error,) = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    shown = "\n".join(error.traceback)
    assert error.ename == "ManifestError"
    assert "is not a valid RayService manifest" in shown and "ray.io/v1" in shown
    assert "helpers/" not in shown and "Traceback" not in shown and "File " not in shown


def test_a_timed_out_wait_leads_with_serves_own_message():
    message = (
        "Deployment 'Model' in application 'predict-c' has 1 replicas that have taken more than 30s to be "
        'scheduled. Resources required for each replica: {"CPU": 1.0}, total resources available: {"CPU": 0.4}.'
    )
    current = status.rayservice_status(
        {
            "applications": {
                "predict-c": {
                    "status": "DEPLOYING",
                    "message": "",
                    "deployments": {
                        "Model": {"status": "UPDATING", "message": message, "target_num_replicas": 1, "replicas": []}
                    },
                },
                "hello": {
                    "status": "RUNNING",
                    "deployments": {"Hello": {"status": "HEALTHY", "target_num_replicas": 1, "replicas": []}},
                },
            }
        },
        "ray-serve-app",
        "local",
        activated=False,
    )
    report = status.timeout_report(current)
    first = report.splitlines()[:2]
    assert first == ["What Serve says:", f"  predict-c/Model UPDATING: {message}"]
    assert "hello" not in "\n".join(first)  # RUNNING apps are not listed as stuck
    table = report.splitlines()[2:]  # then the status table, one row per deployment
    assert table[0].startswith("RayService ray-serve-app: Ready=False")
    assert any(row.split()[:4] == ["predict-c", "DEPLOYING", "Model", "UPDATING"] for row in table)
