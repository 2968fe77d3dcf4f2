"""Lab 03, the chaos lab: the learner chooses hello's replicas, their spread over the nodes and client retries
(a small YAML file), and the check runs a chaos round (a replica killed, a worker node lost) under traffic.

It passes when no request failed and at least MIN_SERVING replicas were left serving through both faults; when
not, ``chaos_hint`` names the one thing to change, the most basic first. ``helpers.checks`` re-exports it all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from helpers.i18n import _
from helpers.lab_files import BASELINE, answer_file, hello_of, no_file, shown
from helpers.lab_results import CheckResult, fail, succeed
from helpers.lint.groups import num_cpus, worker_replicas
from helpers.lint.placement import UNIT, NodeGroup, Placement, Replicas
from helpers.manifests import RayServiceManifest, load_manifest, with_deployment_options

MIN_SERVING = 2  # lab 03's budget: replicas of hello answering at every moment, faults included
MAX_LAB03_REPLICAS = 6


def _choice_problems(num_replicas: Any, max_replicas_per_node: Any, retries: Any) -> list[str]:
    problems = []
    if (
        not isinstance(num_replicas, int)
        or isinstance(num_replicas, bool)
        or not 1 <= num_replicas <= MAX_LAB03_REPLICAS
    ):
        problems.append(
            _(
                "num_replicas: {value}: write a whole number from 1 to {most}",
                value=repr(num_replicas),
                most=MAX_LAB03_REPLICAS,
            )
        )
    if max_replicas_per_node is not None and (
        not isinstance(max_replicas_per_node, int)
        or isinstance(max_replicas_per_node, bool)
        or max_replicas_per_node < 1
    ):
        value = repr(max_replicas_per_node)
        problems.append(_("max_replicas_per_node: {value}: write null or a whole number >= 1", value=value))
    if not isinstance(retries, bool):
        problems.append(_("client_retries: {value}: write true or false", value=repr(retries)))
    return problems


def lab03_choices(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The learner's three choices from their YAML file, or (None, what is wrong with the file)."""
    if not path.exists():
        return None, no_file(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return None, _("{path} is not valid YAML: {error}", path=shown(path), error=str(exc).splitlines()[0])
    if not isinstance(raw, dict):
        return None, _(
            "{path} must hold three keys: num_replicas, max_replicas_per_node, client_retries.", path=shown(path)
        )
    unknown = sorted(set(raw) - {"num_replicas", "max_replicas_per_node", "client_retries"})
    if unknown:
        return None, _(
            "{path}: unknown key(s) {keys}; the lab reads num_replicas, max_replicas_per_node and client_retries.",
            path=shown(path),
            keys=", ".join(map(str, unknown)),
        )
    choice = {k: raw.get(k) for k in ("num_replicas", "max_replicas_per_node", "client_retries")}
    problems = _choice_problems(*choice.values())
    if problems:
        return None, f"{shown(path)}: {'; '.join(problems)}."
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
        return fail(lab, problem)
    n, spread, retries = choice["num_replicas"], choice["max_replicas_per_node"], choice["client_retries"]
    nodes = 1 + sum(g.replicas for g in load_manifest(BASELINE).worker_groups)
    if spread is not None and n > spread * nodes:
        return fail(
            lab,
            _(
                "{n} replicas with at most {spread} per node need {need} nodes; the cluster has {nodes}. Serve would "
                "wait forever for room: change num_replicas or max_replicas_per_node.",
                n=n,
                spread=spread,
                need=-(-n // spread),
                nodes=nodes,
            ),
        )
    manifest = lab03_manifest(n, spread)
    design = design_hint(manifest, retries)
    if design:  # the worst case, by calculation: a lucky run must not pass what an unlucky one would fail
        return fail(lab, design)
    backend.apply(manifest)
    backend.wait_ready()
    scenarios.back_to_target(backend, "hello")()
    placement: dict[str, int] = {}
    for replica in backend.running_replicas("hello"):
        placement[replica["node_id"][:8]] = placement.get(replica["node_id"][:8], 0) + 1
    most = most_on_lost_node(manifest)[0]
    details = [
        _(
            "the worst case, by calculation: the worker node can hold at most {most} of the {n} replicas, so losing "
            "it leaves {left}; a killed replica leaves {crash}",
            most=most,
            n=n,
            left=n - most,
            crash=n - 1,
        ),
        _(
            "{n} replica(s) of hello, per node: {placement}; client retries {retries}",
            n=n,
            placement=placement_text(placement),
            retries=_("on") if retries else _("off"),
        ),
    ]
    crash = scenarios.replica_crash(backend, retries=retries, rate=rate)
    loss = scenarios.node_loss(backend, retries=retries, rate=rate)
    if getattr(loss.detail, "replicas", None) is not None:  # the replicas the lost node held
        lost_on_node = len(loss.detail.replicas)
    else:  # a backend that does not say which: the worst case, the fullest node
        lost_on_node = max(placement.values(), default=0)
    serving = {"replica killed": n - 1, "worker node lost": n - lost_on_node}
    for outcome in (crash, loss):
        report = outcome.report().splitlines()[0]
        details.append(_("{report}; {count} replica(s) left serving", report=report, count=serving[outcome.name]))
    failed = [o for o in (crash, loss) if o.failed or o.error]
    hint = chaos_hint(n, serving, placement, retries, failed[0].name if failed else None)
    return fail(lab, hint, details) if hint else succeed(lab, details)


def most_on_lost_node(manifest: RayServiceManifest) -> tuple[int, float, int]:
    """The most replicas of hello the lost worker node (worker group 0's first node: what the round deletes) can
    be holding, over every placement Serve may choose (the replica-packing search of helpers.lint.placement: k on
    that node, the other n - k on the other nodes); with that node's CPUs and how many replicas they hold."""
    cluster = manifest.cluster_config
    _app, hello = hello_of(manifest.serve_config)
    cpus = float((hello.get("ray_actor_options") or {}).get("num_cpus", 1))
    r = Replicas("hello", "Hello", cpus, hello.get("num_replicas", 1), hello.get("max_replicas_per_node"))
    groups = cluster.get("workerGroupSpecs") or []
    lost = NodeGroup(_("worker group {group}", group=repr(groups[0].get("groupName"))), num_cpus(groups[0]), 1, 0)
    others = [NodeGroup(_("head"), num_cpus(cluster["headGroupSpec"]), 1)] + [
        NodeGroup(str(g.get("groupName")), num_cpus(g), worker_replicas(g) - (1 if i == 0 else 0), i)
        for i, g in enumerate(groups)
    ]
    others = [n for n in others if n.count > 0]
    fit = int(round(lost.cpus * UNIT) // r.units) if r.units else r.count
    for k in range(r.count, 0, -1):
        on_lost = Placement([dataclasses.replace(r, count=k)], [lost])
        rest = Placement([dataclasses.replace(r, count=r.count - k)], others)
        if on_lost.fits and rest.fits:
            return k, lost.cpus, fit
    return 0, lost.cpus, fit


def design_hint(manifest: RayServiceManifest, retries: bool) -> str:
    """The learner's choices checked for the worst case before anything runs: a killed replica, the worker
    node lost holding as many replicas as Serve may put there, and requests in flight at that moment. "" when
    the design meets the budget whatever Serve does; the round then measures it."""
    _app, hello = hello_of(manifest.serve_config)
    n, spread = hello.get("num_replicas", 1), hello.get("max_replicas_per_node")
    if n - 1 < MIN_SERVING:
        return _(
            "with {n} replica(s), {left} serve while Serve replaces a killed one; the budget is {budget} at every "
            "moment. How many must run so that losing one still leaves {budget}?",
            n=n,
            left=n - 1,
            budget=MIN_SERVING,
        )
    most, cpus, fit = most_on_lost_node(manifest)
    if n - most < MIN_SERVING:
        if spread is None:
            return _(
                "max_replicas_per_node is null, so Serve may put {most} of your {n} replicas on the worker node (its "
                "{cpus} CPU hold {fit} replicas of hello). A run where Serve happens to spread them proves nothing: "
                "in the worst case, losing that node leaves {left} serving, and the budget is {budget}. Set "
                "max_replicas_per_node so that the node lost leaves at least {budget}, whatever Serve picks.",
                most=most,
                n=n,
                cpus=f"{cpus:g}",
                fit=fit,
                left=n - most,
                budget=MIN_SERVING,
            )
        return _(
            "with max_replicas_per_node: {spread}, the worker node may hold {most} of your {n} replicas: losing it "
            "leaves {left} serving in the worst case, and the budget is {budget}. How many may one node hold so "
            "that the other node alone still has {budget}? Change the cap or num_replicas.",
            spread=spread,
            most=most,
            n=n,
            left=n - most,
            budget=MIN_SERVING,
        )
    if not retries:
        return _(
            "client_retries is false: the requests already on their way to the replica or node that dies fail, "
            "however many replicas are left, and a round without retries passes only when none happens to be in "
            "flight. The clients must send those again: set client_retries: true."
        )
    return ""


def placement_text(placement: dict[str, int]) -> str:
    on_nodes = [_("{count} on node {node}", count=count, node=node) for node, count in sorted(placement.items())]
    return ", ".join(on_nodes) or _("none running")


def chaos_hint(
    num_replicas: int, serving: dict[str, int], placement: dict[str, int], retries: bool, failed_fault: str | None
) -> str:
    """The one thing to change, most basic first; "" when the round met the budget."""
    if serving["replica killed"] < MIN_SERVING:
        return _(
            "while Serve replaced the killed replica, {count} replica(s) served; the budget is {budget} at every "
            "moment. How many must run so that losing one still leaves {budget}?",
            count=serving["replica killed"],
            budget=MIN_SERVING,
        )
    if serving["worker node lost"] < MIN_SERVING:
        return _(
            "the lost worker node took its replicas with it and {count} served (yours were placed {placement}). A "
            "node's loss takes every replica on it: how many may one node hold so that the other node alone still "
            "has {budget}? max_replicas_per_node sets that, and num_replicas must fit under it.",
            count=serving["worker node lost"],
            placement=placement_text(placement),
            budget=MIN_SERVING,
        )
    # the faults as helpers.scenarios names them
    fault = {"replica killed": _("replica killed"), "worker node lost": _("worker node lost")}.get(failed_fault or "")
    if failed_fault and not retries:
        return _(
            "enough replicas served, yet requests failed during '{fault}': the requests already on their way to "
            "the replica that died. Who can send those again?",
            fault=fault or failed_fault,
        )
    if failed_fault:
        return _(
            "requests failed during '{fault}' even with retries: look at the failure times above.",
            fault=fault or failed_fault,
        )
    return ""
