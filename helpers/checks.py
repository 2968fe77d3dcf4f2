"""Auto-graded lab checks: each returns a CheckResult that says what passed, or gives one kind, specific hint.

The labs (labs/*.ipynb) keep the learner's answer in a YAML file under ``labs/answers/`` (``helpers.lab_files``,
re-exported here): the learner edits it, the check cell grades it, and an instructor can grade it again from the
command line: ``python -m helpers grade lab01``. ``labs/solutions/labNN.yaml`` is the same file, solved (CI
copies it into the answers folder and runs the lab). Graders never change ``manifests/``.

Hints and details are written in the learner's language where they are made (``helpers.i18n._``), so a hint
that quotes another message (a lint finding) quotes it translated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from helpers import lint

# The labs, the tests and `python -m helpers grade` use all of it as checks.NAME: lab 03 (chaos_lab), the answer
# files (lab_files) and the result (lab_results) have modules of their own.
from helpers.chaos_lab import MIN_SERVING, chaos_hint, lab03, lab03_choices, lab03_manifest, placement_text  # noqa: F401
from helpers.i18n import _
from helpers.lab01_article import article_kept, on_cluster, secret_ref_problem
from helpers.lab02_served import lab02_start, served_differs, start_kept  # noqa: F401
from helpers.lab04_ticket import TICKET, decision_hint
from helpers.lab05_by_hand import lab05, regrade_lab05  # noqa: F401
from helpers.lab05_by_hand import start as lab05_start  # noqa: F401
from helpers.lab07_debugging import deploy as lab07_deploy  # noqa: F401
from helpers.lab07_debugging import lab07
from helpers.lab07_debugging import start as lab07_start  # noqa: F401
from helpers.lab_files import (  # noqa: F401
    ANSWER_FILES,
    BASELINE,
    LABS_DIR,
    answer_file,
    answers_dir,
    hello_of,
    no_file,
    shown,
    start,
    two_app_manifest_text,
)
from helpers.lab_results import LABS, CheckResult, LabCheckFailed, saved_results  # noqa: F401
from helpers.lab_results import fail as _fail
from helpers.lab_results import succeed as _pass
from helpers.manifests import ManifestError, RayServiceManifest, load_manifest


def _load(lab: str, path: Path) -> tuple[RayServiceManifest | None, CheckResult | None]:
    """The learner's manifest, or a failed result naming the first thing the linter found."""
    if not path.exists():
        return None, _fail(lab, no_file(path))
    try:
        return load_manifest(path), None
    except ManifestError as exc:
        first, more = exc.findings[0], len(exc.findings) - 1
        hint = f"[{first.rule}] {first.message}"  # made in the learner's language by the linter
        if more:
            hint = _("{finding} ({count} more after this one)", finding=hint, count=more)
        return None, _fail(lab, hint, [f"python -m helpers lint {shown(path)}"])


# -- lab 01: the article's manifest, fixed -------------------------------------------------------------

CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def lab01(path: str | Path | None = None, backend=None) -> CheckResult:
    """The article's manifest, fixed: lint, the article's service kept, the keys from one Secret; on a cluster
    (``backend`` host or kind) also the Secret made and the API server's dry run of the file."""
    lab = "lab01"
    path = Path(path) if path else answer_file(lab)
    manifest, failed = _load(lab, path)
    if failed:
        return failed
    if manifest.warnings:
        w = manifest.warnings[0]
        return _fail(lab, _("the linter still warns: [{rule}] {message}", rule=w.rule, message=w.message))
    details = [_("lint: no errors, no warnings")]
    text = path.read_text()
    if "replace-me" in text:
        return _fail(
            lab,
            _(
                "the placeholder key values (replace-me) are still in the file: a manifest must not hold key values "
                "at all; they belong in a Secret made with kubectl create secret."
            ),
        )
    kept = article_kept(manifest)
    if kept:
        return _fail(lab, kept)
    details.append(
        _(
            "serveConfigV2 is a string in Serve's snake_case schema; the article's service kept: hello at /hello "
            "(hello_app:app), 2 replicas of Hello at 0.2 CPU, on the head and worker group workers (1 node)"
        )
    )
    groups = [(_("head"), manifest.cluster_config["headGroupSpec"])] + [
        (_("worker group {group}", group=g.get("groupName")), g)
        for g in manifest.cluster_config.get("workerGroupSpecs") or []
    ]
    refs: dict[str, tuple[str, str, str]] = {}  # env name -> (Secret, key, where) as first seen
    for where, group in groups:
        for container in lint.containers(group)[:1]:
            env = {e.get("name"): e for e in container.get("env") or [] if isinstance(e, dict)}
            for name in CREDENTIALS:
                ref = ((env.get(name) or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
                if not (ref.get("name") and ref.get("key")):
                    return _fail(
                        lab,
                        _(
                            "the {where} container has no env {name} read from a Secret. Add\n"
                            "  - name: {name}\n    valueFrom:\n"
                            "      secretKeyRef: {{name: aws-credentials, key: {name}}}\n"
                            "to its env: (the replicas run in every Ray container, so each needs it).",
                            where=where,
                            name=name,
                        ),
                    )
                secret, key = str(ref["name"]), str(ref["key"])
                wrong = secret_ref_problem(name, ref, where)
                if wrong:
                    return _fail(lab, wrong)
                first = refs.setdefault(name, (secret, key, where))
                if (secret, key) != first[:2]:
                    return _fail(
                        lab,
                        _(
                            "{name} comes from Secret {secret} key {key} in the {where} container, but from Secret "
                            "{secret2} key {key2} in the {where2} container. You create one Secret: every Ray "
                            "container must read it by the same name and keys (a replica may run in any of them).",
                            name=name,
                            secret=repr(first[0]),
                            key=repr(first[1]),
                            where=first[2],
                            secret2=repr(secret),
                            key2=repr(key),
                            where2=where,
                        ),
                    )
    secrets = sorted({secret for secret, _key, _where in refs.values()})
    if len(secrets) > 1:
        return _fail(
            lab,
            _(
                "the two keys come from {count} Secrets ({names}): put both keys in one Secret (kubectl create "
                "secret generic NAME --from-literal=... --from-literal=...) and read both from it.",
                count=len(secrets),
                names=", ".join(secrets),
            ),
        )
    details.append(
        _(
            "{names} come from Secret {secret} (secretKeyRef), the same name and keys in every Ray container",
            names=", ".join(CREDENTIALS),
            secret=repr(secrets[0]),
        )
    )
    if backend is not None and backend.name != "local":
        keys = tuple(refs[name][1] for name in CREDENTIALS)
        hint, found = on_cluster(backend, path, secrets[0], keys)
        if hint:
            return _fail(lab, hint, details + found)
        details += found
    return _pass(lab, details)


# -- lab 02: a third application ------------------------------------------------------------------------


def lab02(backend, path: str | Path | None = None, requests_per_route: int = 10) -> CheckResult:
    lab = "lab02"
    path = Path(path) if path else answer_file(lab)
    manifest, failed = _load(lab, path)
    if failed:
        return failed
    start_routes = set(load_manifest(two_app_manifest_text()).routes)
    new = sorted(set(manifest.routes) - start_routes)
    if len(manifest.applications) < 3 or not new:
        return _fail(
            lab,
            _(
                "your manifest has {count} application(s) at {routes}: add a third one with its own name and a new "
                "route_prefix (copy the predict-a block and change name, route_prefix and args).",
                count=len(manifest.applications),
                routes=", ".join(sorted(manifest.routes)),
            ),
        )
    kept = start_kept(manifest)
    if kept:
        return _fail(lab, kept)
    details = [
        _(
            "{count} applications; new route prefix(es): {routes}",
            count=len(manifest.applications),
            routes=", ".join(new),
        )
    ]
    try:
        status = backend.status()
        statuses = status["activeServiceStatus"]["applicationStatuses"]
    except Exception as exc:  # noqa: BLE001 - any backend error means: not deployed yet
        return _fail(lab, _("no RayService to check ({error}): apply your file first.", error=str(exc).splitlines()[0]))
    not_running = [
        a["name"] for a in manifest.applications if (statuses.get(a["name"]) or {}).get("status") != "RUNNING"
    ]
    # An app Serve is DELETING is one the applied config no longer has (another file was applied since).
    applied = [name for name in not_running if (statuses.get(name) or {}).get("status") not in (None, "DELETING")]
    if applied:
        # Applied but not RUNNING: Serve says why (e.g. "Resources required for each replica ..."), quote it.
        from helpers import status as status_mod

        said = [line for line in status_mod.stuck(status) if line.split("/")[0].split()[0] in applied]
        said_text = " | ".join(said) if said else _("nothing yet: wait with backend.wait_ready() and check again.")
        return _fail(
            lab,
            _("{apps} is applied but not RUNNING. What Serve says: {said}", apps=", ".join(applied), said=said_text),
        )
    if not_running:
        return _fail(
            lab,
            _(
                "{apps} is not RUNNING on the cluster: apply your file with backend.apply({path}) and wait with "
                "backend.wait_ready().",
                apps=", ".join(not_running),
                path=repr(shown(path)),
            ),
        )
    differs = served_differs(backend, manifest, path)
    if differs:
        return _fail(lab, differs, details)
    details.append(_("Serve's own config of each application is your file's: the cluster serves what you applied"))
    proof = route_proof(backend, manifest, requests_per_route)
    for route, row in proof.items():
        ok, sent = row["ok"], row["sent"]
        if ok < sent:
            failed = _(
                "{route} answered {ok}/{sent} requests: {error}", route=route, ok=ok, sent=sent, error=row["error"]
            )
            return _fail(lab, failed, details)
        if row["foreign"]:
            foreign = _(
                "{count} answer(s) on {route} came from another application's replica.",
                count=row["foreign"],
                route=route,
            )
            return _fail(lab, foreign)
        details.append(
            _(
                "{route} -> {app}: {ok}/{sent} answered, by {replicas} replica(s) of {app} only",
                route=route,
                app=row["app"],
                ok=ok,
                sent=sent,
                replicas=row["replicas"],
            )
        )
    return _pass(lab, details)


def route_proof(backend, manifest: RayServiceManifest, n: int = 10) -> dict[str, dict[str, Any]]:
    """Send ``n`` requests to each route prefix; check each answer came from a replica of the routed app."""
    owners = {}
    for app in manifest.applications:
        for replica in backend.running_replicas(app["name"]):
            owners[replica["replica_id"]] = app["name"]
    proof = {}
    with requests.Session() as session:
        for route, app in sorted(manifest.routes.items()):
            rows = []
            for _request in range(n):
                try:
                    reply = session.get(backend.serve_url + route, timeout=10)
                    body = reply.json() if reply.ok else {}
                    rows.append((reply.status_code, body.get("replica"), "" if reply.ok else reply.text[:120]))
                except (requests.RequestException, ValueError) as exc:
                    rows.append((0, None, str(exc)[:120]))
            answered_by = {r for status, r, _ in rows if status == 200 and r}
            proof[route] = {
                "app": app,
                "sent": n,
                "ok": sum(1 for status, _, _ in rows if status == 200),
                "replicas": len(answered_by),
                # An answer from a replica of another app, or from one Serve does not list for any app.
                "foreign": sum(1 for status, r, _ in rows if status == 200 and owners.get(r) != app),
                "error": next((e for status, _, e in rows if status != 200), ""),
            }
    return proof


# -- lab 04: scale out under traffic without restarting a replica ---------------------------------------------

LAB04_TARGET = TICKET["A"][1]  # replicas of hello's deployment Hello the ticket asks for


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two versions of hello, besides num_replicas: 'runtime_env', 'deployment
    ray_actor_options', ... (the fields that decide whether Serve restarts the replicas)."""
    (old_app, old_dep), (new_app, new_dep) = hello_of(old), hello_of(new)
    fields = [k for k in sorted(set(old_app) | set(new_app)) if k != "deployments" and old_app.get(k) != new_app.get(k)]
    fields += [
        f"deployment {k}"
        for k in sorted(set(old_dep) | set(new_dep))
        if k != "num_replicas" and old_dep.get(k) != new_dep.get(k)
    ]
    return fields


def lab04(backend, path: str | Path | None = None, rate: float = 20.0) -> CheckResult:
    """Grade the learner's decision on the ticket first (helpers.lab04_ticket: ship now exactly the items Serve
    applies to the running replicas), then put the baseline (manifests/ray-service.yaml, 2 replicas) back and
    apply the learner's manifest under traffic without client retries. Passes when Serve runs LAB04_TARGET
    replicas of hello, the 2 that were serving are among them (none was restarted), 0 requests failed, and
    Serve's own config of hello is the file's."""
    from helpers import scenarios

    lab = "lab04"
    path = Path(path) if path else answer_file(lab)
    manifest, failed = _load(lab, path)
    if failed:
        return failed
    baseline = load_manifest(BASELINE)
    if set(manifest.routes) != set(baseline.routes):
        routes = ", ".join(sorted(manifest.routes))
        return _fail(lab, _("keep the route the clients use (/hello); yours are {routes}.", routes=routes))
    decision = decision_hint(baseline, manifest)
    if decision:  # the ticket's items sorted wrongly: nothing to measure yet
        return _fail(lab, decision)
    print(_("Deploying the starting version (manifests/ray-service.yaml) first..."))
    backend.apply(baseline)
    backend.wait_ready()
    before = {r["replica_id"] for r in backend.running_replicas("hello")}
    outcome = scenarios.update(backend, "your update", manifest, rate=rate, retries=False)
    details = outcome.report().splitlines()
    if outcome.error is not None:
        return _fail(
            lab,
            _(
                "your new version failed to deploy, and Serve kept the old one serving ({failed} failed requests): "
                "{error}",
                failed=outcome.failed,
                error=str(outcome.error).splitlines()[0],
            ),
            details,
        )
    after = {r["replica_id"] for r in backend.running_replicas("hello")}
    replaced = before - after
    if replaced:
        fields = changed_fields(baseline.serve_config, manifest.serve_config)
        return _fail(
            lab,
            _(
                "{count} of the {before} replicas that were serving were stopped and replaced by new ones: besides "
                "num_replicas you changed {fields}. Serve restarts the replicas for some fields and applies others "
                "to the running ones: which is which?",
                count=len(replaced),
                before=len(before),
                fields=", ".join(fields) or _("something else"),
            ),
            details,
        )
    if outcome.failed:
        return _fail(
            lab,
            _(
                "{failed} requests failed during the update although no replica was stopped: look at when (above), "
                "and run the check again.",
                failed=outcome.failed,
            ),
            details,
        )
    answered = replicas_that_answered(outcome.traffic, since=outcome.start_s or 0.0)
    details.append(
        _(
            "Serve runs {after} replicas of hello, the {before} that were serving among them (none restarted); "
            "{answered} different replicas answered the clients after the update started",
            after=len(after),
            before=len(before),
            answered=answered,
        )
    )
    if len(after) != LAB04_TARGET:
        count = _("Serve lists {after} running replicas of hello, not {target}.", after=len(after), target=LAB04_TARGET)
        return _fail(lab, count, details)
    differs = served_differs(backend, manifest, path, applied_by_check=True)  # the ticket's options in effect
    if differs:
        return _fail(lab, differs, details)
    return _pass(lab, details)


def replicas_that_answered(traffic, since: float = 0.0) -> int:
    """How many different replicas answered requests sent ``since`` seconds into the record or later."""
    return len({r.replica for r in traffic.records if r.ok and r.replica and r.t >= since})


GRADERS = {"lab01": lab01, "lab02": lab02, "lab03": lab03, "lab04": lab04, "lab05": regrade_lab05, "lab07": lab07}


def grade(lab: str, backend=None) -> CheckResult:
    """Grade ``lab`` from its answer file (the command line's `python -m helpers grade`)."""
    if lab not in GRADERS:
        raise ValueError(f"unknown lab {lab!r}: choose one of {', '.join(GRADERS)}")
    return GRADERS[lab](None, backend) if lab == "lab01" else GRADERS[lab](backend)
