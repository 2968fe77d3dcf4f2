"""Lab 02's proof that the cluster serves the learner's file, read from the cluster's state.

A third application that answers is not enough: another file (lesson 03's manifests/ray-service-multi.yaml runs
predict-b, the solution runs hola) may have put it there, and the learner's file may never have been applied
or may have changed since. Serve keeps, for each application, the config it last deployed
(``deployed_app_config`` in its REST API, ``/api/serve/applications/``): on Kubernetes what KubeRay PUT from the
RayService's ``serveConfigV2``, on the local backend what ``apply`` PUT. ``served_differs`` compares it with the
learner's file, application by application, and ``start_kept`` checks the file adds one application to the two
it started with. ``helpers.checks.lab02`` calls both; each returns the hint, or "" when all is well.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from helpers.i18n import _
from helpers.lab_files import shown, two_app_manifest_text
from helpers.manifests import RayServiceManifest, load_manifest


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def start_kept(manifest: RayServiceManifest) -> str:
    """ "" when the file is the two starting applications, unchanged, and exactly one more."""
    starting = load_manifest(two_app_manifest_text())
    start = {a["name"]: a for a in starting.applications}
    mine = {a["name"]: a for a in manifest.applications}
    changed = [
        field
        for field, a, b in (
            ("metadata.name", starting.name, manifest.name),
            ("rayClusterConfig", starting.cluster_config, manifest.cluster_config),
        )
        if _plain(a) != _plain(b)
    ]
    if changed:
        return _(
            "you changed {fields}: the task adds an application, which changes serveConfigV2 only (an in-place "
            "update of the running cluster; another name or cluster makes KubeRay build a new RayCluster). Put "
            "{fields} back as the starting file has it.",
            fields=", ".join(changed),
        )
    for name, app in start.items():
        if _plain(mine.get(name)) != _plain(app):
            return _(
                "{app} is not as the starting file has it: the task adds a third application and leaves hello and "
                "predict-a as they are. Put it back as it was (checks.start('lab02', reset=True) writes the "
                "starting file again, without your edits).",
                app=name,
            )
    if len(manifest.applications) > len(start) + 1:
        return _(
            "your manifest has {count} applications ({names}): the task is the two you started with and one "
            "more. Keep one new application.",
            count=len(manifest.applications),
            names=", ".join(mine),
        )
    return ""


def served_differs(backend, manifest: RayServiceManifest, path: Path, applied_by_check: bool = False) -> str:
    """ "" when Serve runs exactly the file's applications, each with the file's config; else the hint. With
    ``applied_by_check`` (lab 04, whose check applies the file itself) the hint says to run the check again."""
    apps = backend.serve_details().get("applications") or {}
    if applied_by_check:
        apply = _("The check applied your file and Serve runs something else: run the check again.")
    else:
        apply = _(
            "Apply your file with backend.apply({path}) and wait with backend.wait_ready().", path=repr(shown(path))
        )
    mine = {a["name"]: a for a in manifest.applications}
    extra = sorted(set(apps) - set(mine))
    if extra:
        return _(
            "Serve also runs {apps}, which your file does not have: the cluster serves another file than yours "
            "(an apply replaces the whole set of applications). {apply}",
            apps=", ".join(extra),
            apply=apply,
        )
    for name, app in mine.items():
        served = _plain((apps.get(name) or {}).get("deployed_app_config"))
        wanted = _plain(app)
        if served != wanted:
            served = served if isinstance(served, dict) else {}
            fields = [k for k in sorted(set(served) | set(wanted)) if served.get(k) != wanted.get(k)]
            return _(
                "Serve runs {app} with a config other than your file's ({fields} differ): the cluster serves "
                "another file, or yours changed after you applied it. {apply}",
                app=name,
                fields=", ".join(fields),
                apply=apply,
            )
    return ""


def lab02_start() -> RayServiceManifest:
    """The lab's starting file as a manifest to apply: the lab starts the cluster from its two applications."""
    return dataclasses.replace(load_manifest(two_app_manifest_text()), source=_("lab 02's starting file"))
