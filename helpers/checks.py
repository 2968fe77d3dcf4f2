"""Auto-graded lab checks: each returns a CheckResult that says what passed, or gives one kind, specific hint.

The labs (labs/*.ipynb) keep the learner's answer in a YAML file under ``labs/answers/`` (override:
RAYSERVICE_TUTORIAL_LABS_ANSWERS): the learner edits it, the check cell grades it, and an instructor can grade
it again from the command line: ``python -m helpers grade lab01``. ``labs/solutions/labNN.yaml`` is the same
file, solved (CI copies it into the answers folder and runs the lab). Graders never change ``manifests/``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from helpers import config, i18n, lint, statefile
from helpers.manifests import ManifestError, RayServiceManifest, load_manifest, with_deployment_options

LABS_DIR = config.PROJECT_ROOT / "labs"
BASELINE = config.MANIFESTS_DIR / "ray-service.yaml"
LAB02_START_FROM = config.MANIFESTS_DIR / "ray-service-multi.yaml"
LABS = {
    "lab01": "Fix the article's manifest",
    "lab02": "A third application at its own route prefix",
    "lab03": "Two replicas serving through every fault of a chaos round",
    "lab04": "Scale out under traffic without restarting a replica",
}
# The learner's answer file for each lab, in labs/answers/ (labs/solutions/labNN.yaml solves it).
ANSWER_FILES = {
    "lab01": "lab01-ray-service.yaml",
    "lab02": "lab02-ray-service.yaml",
    "lab03": "lab03-answer.yaml",
    "lab04": "lab04-ray-service.yaml",
}


class LabCheckFailed(AssertionError):
    """Raised by CheckResult.require(): the check did not pass (strict mode, used by CI)."""


@dataclass
class CheckResult:
    lab: str
    passed: bool
    hint: str = ""  # the one thing to fix next, when not passed
    details: list[str] = field(default_factory=list)  # what was checked or measured

    def __str__(self) -> str:
        head = f"✅ {self.lab} passed: {LABS[self.lab]}" if self.passed else f"❌ {self.lab} not yet. Hint: {self.hint}"
        # In the learner's language (helpers.i18n): English as written here, or Korean from the catalog.
        return "\n".join([i18n.tr(head), *(f"   · {i18n.tr(d)}" for d in self.details)])

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows str(), not the dataclass repr
        printer.text(str(self))

    def require(self) -> CheckResult:
        if not self.passed:
            raise LabCheckFailed(str(self))
        return self

    def save(self) -> CheckResult:
        """Record the result in labs/answers/results.json (what `python -m helpers grade --status` shows)."""
        path = answers_dir() / "results.json"
        results = _read_json(path)
        results[self.lab] = {"passed": self.passed, "hint": self.hint, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        statefile.write(path, results)
        return self


def _fail(lab: str, hint: str, details: list[str] | None = None) -> CheckResult:
    return CheckResult(lab, False, hint, details or []).save()


def _pass(lab: str, details: list[str]) -> CheckResult:
    return CheckResult(lab, True, "", details).save()


# -- the learner's work files ----------------------------------------------------------------------


def answers_dir() -> Path:
    path = Path(os.environ.get("RAYSERVICE_TUTORIAL_LABS_ANSWERS", LABS_DIR / "answers")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def answer_file(lab: str) -> Path:
    if lab not in ANSWER_FILES:
        raise ValueError(f"unknown lab {lab!r}: choose one of {', '.join(ANSWER_FILES)}")
    return answers_dir() / ANSWER_FILES[lab]


def start(lab: str, reset: bool = False) -> Path:
    """Copy the lab's starting file into labs/answers/ (kept if it exists, so re-running keeps your edits)."""
    path = answer_file(lab)
    if path.exists() and not reset:
        print(i18n.tr(f"Your file: {_shown(path)} (kept; start(..., reset=True) starts over)"))
        return path
    if lab == "lab01":
        text = (LABS_DIR / "broken" / "article-ray-service.yaml").read_text()
    elif lab == "lab02":
        text = two_app_manifest_text()
    elif lab == "lab04":
        text = BASELINE.read_text()
    else:
        text = LAB03_START
    path.write_text(text)
    print(i18n.tr(f"Your file: {_shown(path)} (open it in JupyterLab's file browser and edit it)"))
    return path


def two_app_manifest_text() -> str:
    """manifests/ray-service-multi.yaml without its third application, predict-b."""
    lines = LAB02_START_FROM.read_text().splitlines()
    first = lines.index("      - name: predict-b")
    end = next(
        (
            i
            for i in range(first + 1, len(lines))
            if lines[i].startswith("      - name:") or not lines[i].startswith(" " * 6)
        ),
        len(lines),
    )
    body = [line for line in lines[:first] + lines[end:] if not line.startswith("#")]
    header = ["# Lab 02: two applications, /hello and /predict-a. Add a third one at a route prefix of its own."]
    return "\n".join(header + body) + "\n"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _read_json(path: Path) -> dict[str, Any]:
    return statefile.read(path) or {}


def _load(lab: str, path: Path) -> tuple[RayServiceManifest | None, CheckResult | None]:
    """The learner's manifest, or a failed result naming the first thing the linter found."""
    if not path.exists():
        return None, _fail(lab, f"{_shown(path)} does not exist yet: run the lab's first cell (start) to create it.")
    try:
        return load_manifest(path), None
    except ManifestError as exc:
        first = exc.findings[0]
        more = f" ({len(exc.findings) - 1} more after this one)" if len(exc.findings) > 1 else ""
        return None, _fail(lab, f"[{first.rule}] {first.message}{more}", [f"python -m helpers lint {_shown(path)}"])


# -- lab 01: the article's manifest, fixed -------------------------------------------------------------

CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def lab01(path: str | Path | None = None) -> CheckResult:
    lab = "lab01"
    path = Path(path) if path else answer_file(lab)
    manifest, failed = _load(lab, path)
    if failed:
        return failed
    if manifest.warnings:
        w = manifest.warnings[0]
        return _fail(lab, f"the linter still warns: [{w.rule}] {w.message}")
    details = ["lint: no errors, no warnings"]
    text = path.read_text()
    if "replace-me" in text:
        return _fail(
            lab,
            "the placeholder key values (replace-me) are still in the file: a manifest must not "
            "hold key values at all; they belong in a Secret made with kubectl create secret.",
        )
    apps = {a["name"]: a for a in manifest.applications}
    if "hello" not in apps or apps["hello"].get("route_prefix") != "/hello":
        return _fail(lab, "keep the article's application: name hello at route_prefix /hello.")
    hello = apps["hello"]
    replicas = {d.get("name"): d.get("num_replicas") for d in hello.get("deployments") or []}
    if 2 not in replicas.values():
        return _fail(lab, f"the article runs 2 replicas of hello's deployment; you have {replicas or 'none listed'}.")
    details.append("serveConfigV2 is a string in Serve's snake_case schema; hello at /hello with 2 replicas")
    groups = [("head", manifest.cluster_config["headGroupSpec"])] + [
        (f"worker group {g.get('groupName')}", g) for g in manifest.cluster_config.get("workerGroupSpecs") or []
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
                        f"the {where} container has no env {name} read from a Secret. Add\n"
                        f"  - name: {name}\n    valueFrom:\n"
                        f"      secretKeyRef: {{name: aws-credentials, key: {name}}}\n"
                        "to its env: (the replicas run in every Ray container, so each needs it).",
                    )
                secret, key = str(ref["name"]), str(ref["key"])
                first = refs.setdefault(name, (secret, key, where))
                if (secret, key) != first[:2]:
                    return _fail(
                        lab,
                        f"{name} comes from Secret {first[0]!r} key {first[1]!r} in the {first[2]} container, "
                        f"but from Secret {secret!r} key {key!r} in the {where} container. You create one "
                        "Secret: every Ray container must read it by the same name and keys (a replica may "
                        "run in any of them).",
                    )
    secrets = sorted({secret for secret, _, _ in refs.values()})
    if len(secrets) > 1:
        return _fail(
            lab,
            f"the two keys come from {len(secrets)} Secrets ({', '.join(secrets)}): put both keys in one "
            "Secret (kubectl create secret generic NAME --from-literal=... --from-literal=...) and read both from it.",
        )
    details.append(
        f"{', '.join(CREDENTIALS)} come from Secret {secrets[0]!r} (secretKeyRef), the same name and keys "
        "in every Ray container"
    )
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
            f"your manifest has {len(manifest.applications)} application(s) at "
            f"{', '.join(sorted(manifest.routes))}: add a third one with its own name and a new "
            "route_prefix (copy the predict-a block and change name, route_prefix and args).",
        )
    details = [f"{len(manifest.applications)} applications; new route prefix(es): {', '.join(new)}"]
    try:
        status = backend.status()
        statuses = status["activeServiceStatus"]["applicationStatuses"]
    except Exception as exc:  # noqa: BLE001 - any backend error means: not deployed yet
        return _fail(lab, f"no RayService to check ({str(exc).splitlines()[0]}): apply your file first.")
    not_running = [
        a["name"] for a in manifest.applications if (statuses.get(a["name"]) or {}).get("status") != "RUNNING"
    ]
    applied = [name for name in not_running if name in statuses]
    if applied:
        # Applied but not RUNNING: Serve says why (e.g. "Resources required for each replica ..."), quote it.
        from helpers import status as status_mod

        said = [line for line in status_mod.stuck(status) if line.split("/")[0].split()[0] in applied]
        return _fail(
            lab,
            f"{', '.join(applied)} is applied but not RUNNING. What Serve says: "
            + (" | ".join(said) if said else "nothing yet: wait with backend.wait_ready() and check again."),
        )
    if not_running:
        return _fail(
            lab,
            f"{', '.join(not_running)} is not RUNNING on the cluster: apply your file with "
            f"backend.apply({_shown(path)!r}) and wait with backend.wait_ready().",
        )
    proof = route_proof(backend, manifest, requests_per_route)
    for route, row in proof.items():
        if row["ok"] < row["sent"]:
            return _fail(lab, f"{route} answered {row['ok']}/{row['sent']} requests: {row['error']}", details)
        if row["foreign"]:
            return _fail(lab, f"{row['foreign']} answer(s) on {route} came from another application's replica.")
        details.append(
            f"{route} -> {row['app']}: {row['ok']}/{row['sent']} answered, by {row['replicas']} "
            f"replica(s) of {row['app']} only"
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
            for _ in range(n):
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


# -- lab 03: two replicas serving through every fault of a chaos round -------------------------------------------

MIN_SERVING = 2  # lab 03's budget: replicas of hello answering at every moment, faults included
MAX_LAB03_REPLICAS = 6
LAB03_START = """\
# Lab 03: your choices for `hello`. Edit the three values, save the file, run the check.
num_replicas: 1              # how many replicas of hello (1 to 6)
max_replicas_per_node: null  # null: Serve places them where it likes; a number: at most that many on one node
client_retries: false        # do the clients retry a failed request (with backoff)? true or false
"""


def _choice_problems(num_replicas: Any, max_replicas_per_node: Any, retries: Any) -> list[str]:
    problems = []
    if (
        not isinstance(num_replicas, int)
        or isinstance(num_replicas, bool)
        or not 1 <= num_replicas <= MAX_LAB03_REPLICAS
    ):
        problems.append(f"num_replicas: {num_replicas!r}: write a whole number from 1 to {MAX_LAB03_REPLICAS}")
    if max_replicas_per_node is not None and (
        not isinstance(max_replicas_per_node, int)
        or isinstance(max_replicas_per_node, bool)
        or max_replicas_per_node < 1
    ):
        problems.append(f"max_replicas_per_node: {max_replicas_per_node!r}: write null or a whole number >= 1")
    if not isinstance(retries, bool):
        problems.append(f"client_retries: {retries!r}: write true or false")
    return problems


def lab03_choices(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The learner's three choices from their YAML file, or (None, what is wrong with the file)."""
    if not path.exists():
        return None, f"{_shown(path)} does not exist yet: run the lab's first cell (start) to create it."
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return None, f"{_shown(path)} is not valid YAML: {str(exc).splitlines()[0]}"
    if not isinstance(raw, dict):
        return None, f"{_shown(path)} must hold three keys: num_replicas, max_replicas_per_node, client_retries."
    unknown = sorted(set(raw) - {"num_replicas", "max_replicas_per_node", "client_retries"})
    if unknown:
        return None, (
            f"{_shown(path)}: unknown key(s) {', '.join(map(str, unknown))}; "
            "the lab reads num_replicas, max_replicas_per_node and client_retries."
        )
    choice = {k: raw.get(k) for k in ("num_replicas", "max_replicas_per_node", "client_retries")}
    problems = _choice_problems(*choice.values())
    if problems:
        return None, f"{_shown(path)}: {'; '.join(problems)}."
    return choice, ""


def lab03_manifest(num_replicas: int, max_replicas_per_node: int | None) -> RayServiceManifest:
    options: dict[str, Any] = {"num_replicas": num_replicas}
    if max_replicas_per_node is not None:
        options["max_replicas_per_node"] = max_replicas_per_node
    return with_deployment_options(load_manifest(BASELINE), "hello", "Hello", **options)


def lab03(backend, path: str | Path | None = None, rate: float = 20.0) -> CheckResult:
    """Deploy hello with the learner's replicas and placement, then kill a replica and lose a worker node
    under traffic (with or without client retries). Passes when no request failed and, through both faults,
    at least MIN_SERVING replicas were left serving (counted from where Serve placed them)."""
    from helpers import scenarios

    lab = "lab03"
    path = Path(path) if path else answer_file(lab)
    choice, problem = lab03_choices(path)
    if choice is None:
        return _fail(lab, problem)
    n, spread, retries = choice["num_replicas"], choice["max_replicas_per_node"], choice["client_retries"]
    nodes = 1 + sum(g.replicas for g in load_manifest(BASELINE).worker_groups)
    if spread is not None and n > spread * nodes:
        return _fail(
            lab,
            f"{n} replicas with at most {spread} per node need {-(-n // spread)} nodes; the cluster "
            f"has {nodes}. Serve would wait forever for room: change num_replicas or max_replicas_per_node.",
        )
    manifest = lab03_manifest(n, spread)
    backend.apply(manifest)
    backend.wait_ready()
    scenarios.back_to_target(backend, "hello")()
    placement: dict[str, int] = {}
    for replica in backend.running_replicas("hello"):
        placement[replica["node_id"][:8]] = placement.get(replica["node_id"][:8], 0) + 1
    details = [
        f"{n} replica(s) of hello, per node: {placement_text(placement)}; client retries {'on' if retries else 'off'}"
    ]
    crash = scenarios.replica_crash(backend, retries=retries, rate=rate)
    loss = scenarios.node_loss(backend, retries=retries, rate=rate)
    if getattr(loss.detail, "replicas", None) is not None:  # the replicas the lost node held
        lost_on_node = len(loss.detail.replicas)
    else:  # a backend that does not say which: the worst case, the fullest node
        lost_on_node = max(placement.values(), default=0)
    serving = {"replica killed": n - 1, "worker node lost": n - lost_on_node}
    for outcome in (crash, loss):
        details.append(f"{outcome.report().splitlines()[0]}; {serving[outcome.name]} replica(s) left serving")
    failed = [o for o in (crash, loss) if o.failed or o.error]
    hint = chaos_hint(n, serving, placement, retries, failed[0].name if failed else None)
    return _fail(lab, hint, details) if hint else _pass(lab, details)


def placement_text(placement: dict[str, int]) -> str:
    return ", ".join(f"{count} on node {node}" for node, count in sorted(placement.items())) or "none running"


def chaos_hint(
    num_replicas: int, serving: dict[str, int], placement: dict[str, int], retries: bool, failed_fault: str | None
) -> str:
    """The one thing to change, most basic first; "" when the round met the budget."""
    if serving["replica killed"] < MIN_SERVING:
        return (
            f"while Serve replaced the killed replica, {serving['replica killed']} replica(s) served; the "
            f"budget is {MIN_SERVING} at every moment. How many must run so that losing one still leaves "
            f"{MIN_SERVING}?"
        )
    if serving["worker node lost"] < MIN_SERVING:
        return (
            f"the lost worker node took its replicas with it and {serving['worker node lost']} served "
            f"(yours were placed {placement_text(placement)}). A node's loss takes every replica on it: how "
            f"many may one node hold so that the other node alone still has {MIN_SERVING}? "
            "max_replicas_per_node sets that, and num_replicas must fit under it."
        )
    if failed_fault and not retries:
        return (
            f"enough replicas served, yet requests failed during '{failed_fault}': the requests already on "
            "their way to the replica that died. Who can send those again?"
        )
    if failed_fault:
        return f"requests failed during '{failed_fault}' even with retries: look at the failure times above."
    return ""


# -- lab 04: scale out under traffic without restarting a replica ---------------------------------------------

LAB04_TARGET = 4  # replicas of hello's deployment Hello the lab asks for


def _hello(serve_config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the hello application, its Hello deployment) from a serveConfigV2 dict ({} when absent)."""
    app = next((a for a in serve_config.get("applications") or [] if a.get("name") == "hello"), {})
    deployment = next((d for d in app.get("deployments") or [] if d.get("name") == "Hello"), {})
    return app, deployment


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two versions of hello, besides num_replicas: 'runtime_env', 'deployment
    ray_actor_options', ... (the fields that decide whether Serve restarts the replicas)."""
    (old_app, old_dep), (new_app, new_dep) = _hello(old), _hello(new)
    fields = [k for k in sorted(set(old_app) | set(new_app)) if k != "deployments" and old_app.get(k) != new_app.get(k)]
    fields += [
        f"deployment {k}"
        for k in sorted(set(old_dep) | set(new_dep))
        if k != "num_replicas" and old_dep.get(k) != new_dep.get(k)
    ]
    return fields


def lab04(backend, path: str | Path | None = None, rate: float = 20.0) -> CheckResult:
    """Put the baseline (manifests/ray-service.yaml, 2 replicas) back, then apply the learner's manifest under
    traffic without client retries. Passes when Serve runs LAB04_TARGET replicas of hello, the 2 that were
    serving are among them (none was restarted), and 0 requests failed."""
    from helpers import scenarios

    lab = "lab04"
    path = Path(path) if path else answer_file(lab)
    manifest, failed = _load(lab, path)
    if failed:
        return failed
    baseline = load_manifest(BASELINE)
    if manifest.cluster_config != baseline.cluster_config:
        return _fail(
            lab,
            "you changed rayClusterConfig. On kind, KubeRay would build a whole new cluster for that; "
            "the nodes you have are enough: the change belongs in serveConfigV2.",
        )
    if set(manifest.routes) != set(baseline.routes):
        return _fail(lab, f"keep the route the clients use (/hello); yours are {', '.join(sorted(manifest.routes))}.")
    _, deployment = _hello(manifest.serve_config)
    replicas = deployment.get("num_replicas", 1)
    if replicas != LAB04_TARGET:
        same = (
            " (your file is the same as the running version)" if manifest.serve_config == baseline.serve_config else ""
        )
        return _fail(
            lab,
            f"hello's deployment Hello asks for {replicas} replica(s) in your file{same}; the task is "
            f"{LAB04_TARGET} replicas serving. Which field of the deployment says how many?",
        )
    print(i18n.tr("Deploying the starting version (manifests/ray-service.yaml) first..."))
    backend.apply(baseline)
    backend.wait_ready()
    before = {r["replica_id"] for r in backend.running_replicas("hello")}
    outcome = scenarios.update(backend, "your update", manifest, rate=rate, retries=False)
    details = outcome.report().splitlines()
    if outcome.error is not None:
        return _fail(
            lab,
            "your new version failed to deploy, and Serve kept the old one serving "
            f"({outcome.failed} failed requests): {str(outcome.error).splitlines()[0]}",
            details,
        )
    after = {r["replica_id"] for r in backend.running_replicas("hello")}
    replaced = before - after
    if replaced:
        fields = changed_fields(baseline.serve_config, manifest.serve_config)
        return _fail(
            lab,
            f"{len(replaced)} of the {len(before)} replicas that were serving were stopped and replaced by new "
            f"ones: besides num_replicas you changed {', '.join(fields) or 'something'}. Serve restarts the "
            "replicas for some fields and applies others to the running ones: which is which?",
            details,
        )
    if outcome.failed:
        return _fail(
            lab,
            f"{outcome.failed} requests failed during the update although no replica was stopped: "
            "look at when (above), and run the check again.",
            details,
        )
    answered = replicas_that_answered(outcome.traffic, since=outcome.start_s or 0.0)
    details.append(
        f"Serve runs {len(after)} replicas of hello, the {len(before)} that were serving among them "
        f"(none restarted); {answered} different replicas answered the clients after the update started"
    )
    if len(after) != LAB04_TARGET:
        return _fail(lab, f"Serve lists {len(after)} running replicas of hello, not {LAB04_TARGET}.", details)
    return _pass(lab, details)


def replicas_that_answered(traffic, since: float = 0.0) -> int:
    """How many different replicas answered requests sent ``since`` seconds into the record or later."""
    return len({r.replica for r in traffic.records if r.ok and r.replica and r.t >= since})


GRADERS = {"lab01": lab01, "lab02": lab02, "lab03": lab03, "lab04": lab04}


def grade(lab: str, backend=None) -> CheckResult:
    """Grade ``lab`` from its answer file (the command line's `python -m helpers grade`)."""
    if lab not in GRADERS:
        raise ValueError(f"unknown lab {lab!r}: choose one of {', '.join(GRADERS)}")
    return GRADERS[lab]() if lab == "lab01" else GRADERS[lab](backend)


def saved_results() -> dict[str, Any]:
    return _read_json(answers_dir() / "results.json")
