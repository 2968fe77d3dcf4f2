"""Lab 07: a RayService with three hidden faults, one per application; name each cause, then fix them.

The broken service is ``labs/broken/lab07-ray-service.yaml``: lesson 03's three applications, each broken in one
place. ``start()`` copies it next to the learner's diagnosis file (``labs/answers/lab07-diagnosis.yaml``), and
``deploy()`` puts it on the cluster and waits until every fault shows (Serve explains a replica that cannot be
scheduled after 30 s). ``lab07()`` grades the diagnosis first, against the causes lesson 08 names
(``helpers.debugging.CAUSES``), and only then applies the learner's fixed manifest: every application RUNNING,
and each route answered by its own application.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml

from helpers import config, debugging
from helpers.errors import BackendError
from helpers.i18n import N_, _
from helpers.lab_files import LABS_DIR, answer_file, no_file, shown
from helpers.lab_results import CheckResult
from helpers.lab_results import fail as _fail
from helpers.lab_results import succeed as _pass

LAB = "lab07"
BROKEN = LABS_DIR / "broken" / "lab07-ray-service.yaml"
MANIFEST_FILE = "lab07-ray-service.yaml"  # the learner's copy to fix, beside the diagnosis file
# Each application's fault (the answer), and the request its clients make with what the answer holds.
FAULTS = {"hello": "route", "predict-a": "import", "predict-b": "resources"}
CLIENTS = {
    "hello": ("/hello", "message", "Hello from RayService!"),
    "predict-a": ("/predict-a?x=4", "prediction", 9.0),
    "predict-b": ("/predict-b?x=4", "prediction", 11.0),
}
# Where to look again after a wrong diagnosis: the place of lesson 08 that shows the true cause.
LOOK_AGAIN = {
    "route": N_("compare the route table with the path its clients call (lesson 08, Step 1)"),
    "import": N_("read the last line of the application's message in Serve's status (lesson 08, Step 2)"),
    "resources": N_("read the deployment's message, or the pending demands of `ray status` (lesson 08, Step 3)"),
}
START = """\
# Lab 07: the cause of each application's fault, one of: {causes}
# (lesson 08's list: debugging.CAUSES). Then fix the manifest named below and run the check.
diagnosis:
  hello:
  predict-a:
  predict-b:
fixed_manifest: {manifest}  # your fixed copy, beside this file
"""


def start(reset: bool = False) -> Path:
    """The diagnosis file and, beside it, a copy of the broken manifest to fix (both kept if they exist)."""
    path = answer_file(LAB)
    copy = path.with_name(MANIFEST_FILE)
    if not copy.exists() or reset:
        copy.write_text(BROKEN.read_text())
    if path.exists() and not reset:
        print(_("Your file: {path} (kept; start(..., reset=True) starts over)", path=shown(path)))
        return path
    path.write_text(START.format(causes=", ".join(debugging.CAUSES), manifest=MANIFEST_FILE))
    print(_("Your files: {path} and, to fix, {manifest}", path=shown(path), manifest=shown(copy)))
    return path


def deploy(backend: Any, timeout: float = 180) -> None:
    """The broken service on the cluster, and a wait until each application shows its fault."""
    from helpers import manifests, progress

    backend.up(config.MANIFESTS_DIR / "ray-service-multi.yaml")
    backend.apply(manifests.load_manifest(BROKEN))

    def shown_all() -> tuple[bool, str]:
        apps = backend.serve_details().get("applications") or {}
        states = {name: (apps.get(name) or {}).get("status", "-") for name in FAULTS}
        waiting = debugging.scheduling_message(backend, "predict-b", "Predictor")
        settled = states["hello"] == "RUNNING" and states["predict-a"] == "DEPLOY_FAILED" and bool(waiting)
        return settled, ", ".join(f"{name} {state}" for name, state in states.items())

    progress.wait_for(_("every application of the broken service to show its fault"), shown_all, timeout)


def read_diagnosis(path: Path) -> tuple[dict[str, str], Path | None, str]:
    """(application -> cause, the fixed manifest's path, the problem with the file or "")."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        return {}, None, _("{path} is not valid YAML: {error}", path=shown(path), error=str(exc).splitlines()[0])
    given = data.get("diagnosis") if isinstance(data, dict) else None
    if not isinstance(given, dict):
        return (
            {},
            None,
            _("write your diagnosis under `diagnosis:`, one line per application: {apps}.", apps=", ".join(FAULTS)),
        )
    diagnosis = {str(k): str(v).strip() if v is not None else "" for k, v in given.items()}
    for app in FAULTS:
        cause = diagnosis.get(app, "")
        if cause not in debugging.CAUSES:
            return (
                {},
                None,
                _(
                    "{app}: write one of {causes}, not {given}.",
                    app=app,
                    causes=", ".join(debugging.CAUSES),
                    given=repr(cause) if cause else _("nothing"),
                ),
            )
    name = str(data.get("fixed_manifest") or MANIFEST_FILE)
    fixed = next((p for p in (path.parent / name, config.PROJECT_ROOT / name) if p.exists()), None)
    if fixed is None:
        return diagnosis, None, _("fixed_manifest: {name} is not there (beside {path}, or from the project root).",
                                  name=name, path=shown(path))  # fmt: skip
    return diagnosis, fixed, ""


def diagnosis_hint(diagnosis: dict[str, str]) -> str:
    """The first application whose cause is wrong, and where to look again ("" when all three are right)."""
    for app, cause in FAULTS.items():
        if diagnosis.get(app) != cause:
            return _(
                "{app}: the signs do not point to {given}. Look again: {where}.",
                app=app,
                given=diagnosis.get(app),
                where=_(LOOK_AGAIN[cause]),
            )
    return ""


def _answers(backend: Any) -> list[tuple[str, str]]:
    """(application, what is wrong with its clients' answer, "" when it is right) for each application."""
    found = []
    for app, (path, key, expected) in CLIENTS.items():
        try:
            response = requests.get(backend.serve_url + path, timeout=10)
            value = response.json().get(key) if response.status_code == 200 else None
            wrong = "" if value == expected else f"HTTP {response.status_code}"
        except (requests.RequestException, ValueError) as exc:
            wrong = type(exc).__name__
        found.append((app, wrong))
    return found


def lab07(backend: Any, path: str | Path | None = None, timeout: float = 60) -> CheckResult:
    """Grade the diagnosis (all three causes right), then apply the fixed manifest: every application RUNNING
    and each route answered by its own application."""
    from helpers import manifests

    path = Path(path) if path else answer_file(LAB)
    if not path.exists():
        return _fail(LAB, no_file(path))
    diagnosis, fixed, problem = read_diagnosis(path)
    if problem:
        return _fail(LAB, problem)
    hint = diagnosis_hint(diagnosis)
    if hint:  # nothing is applied before the three causes are named
        return _fail(LAB, hint)
    details = [_("diagnosis: {causes}", causes=", ".join(f"{a} {c}" for a, c in diagnosis.items()))]
    try:
        manifest = manifests.load_manifest(fixed)
    except manifests.ManifestError as exc:
        return _fail(LAB, str(exc).splitlines()[-1].strip(" -"), [f"python -m helpers lint {shown(fixed)}"])
    if set(manifest.routes.values()) != set(FAULTS):
        return _fail(LAB, _("keep the three applications (hello, predict-a, predict-b): fix them, do not remove one."))
    try:
        backend.apply(manifest)
    except BackendError as exc:  # e.g. a change of the cluster's shape, which the local backend refuses
        return _fail(LAB, str(exc).splitlines()[0])
    try:
        backend.wait_ready(timeout=timeout)
    except (BackendError, TimeoutError):  # a failed deploy or a wait that ran out: the applications say which
        pass
    for app, (client_path, _key, _expected) in CLIENTS.items():
        seen = debugging.look(backend, app, client_path.split("?")[0])
        cause = debugging.diagnose_serve(seen)
        if cause:
            return _fail(LAB, _("{app} is still broken: {cause}.", app=app, cause=_(debugging.CAUSES[cause])),
                         seen.table().splitlines())  # fmt: skip
    wrong = [(app, what) for app, what in _answers(backend) if what]
    if wrong:
        app, what = wrong[0]
        return _fail(LAB, _("{app} does not answer its clients yet ({what}).", app=app, what=what))
    details.append(_("every application RUNNING; /hello, /predict-a and /predict-b each answered by its own"))
    return _pass(LAB, details)
