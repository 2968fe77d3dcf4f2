"""The replica rules: every Serve replica gets its CPUs, whichever nodes KubeRay makes and Serve picks.

They reason about a sound manifest only (the Serve config passed Ray's schema, the cluster KubeRay's),
and leave the search itself to ``helpers.lint.placement`` (which words the nodes, the replicas and the fixes in
the learner's language, as these rules word the rest).
"""

from __future__ import annotations

from helpers.i18n import N_, _
from helpers.lint.groups import num_cpus, worker_default, worker_replicas
from helpers.lint.placement import UNIT, NodeGroup, Placement, Replicas
from helpers.lint.registry import Context, rule


@rule("replica-cpus", N_("no replica asks for more CPUs than the largest node has"))
def _replica_cpus(ctx: Context):
    placement = _placement(ctx)
    if placement is None:
        return
    for r in placement.too_big:
        yield _(
            "deployment {deployment} of application {app} asks for {cpus} CPUs per replica "
            "(ray_actor_options.num_cpus{note}), but the largest Ray node has {largest}: no node can ever hold it. "
            "Lower num_cpus (e.g. 0.2) or give the nodes more CPUs (rayStartParams num-cpus, or resources.limits.cpu)",
            deployment=repr(r.deployment),
            app=repr(r.app),
            cpus=f"{r.cpus:g}",
            note="" if r.cpus_set else _(", 1 when not set"),
            largest=f"{placement.largest:g}",
        )


@rule("replica-capacity", N_("all replicas together fit in the cluster's CPUs"))
def _replica_capacity(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.too_big or placement.needed <= placement.total + 1e-9:
        return
    biggest = max(placement.replicas, key=lambda r: r.cpus * r.count)
    yield _(
        "the replicas ask for {needed} CPUs in all but the cluster has {total} (head + worker replicas): Serve "
        "would leave the extra replicas PENDING forever. The largest share is {label} ({share} CPUs): lower "
        "num_replicas or num_cpus, or add worker replicas",
        needed=f"{placement.needed:g}",
        total=f"{placement.total:g}",
        label=biggest.label,
        share=f"{biggest.cpus * biggest.count:g}",
    )


@rule("replica-packing", N_("every replica's CPUs fit on ONE node: the replicas can be packed onto the nodes"))
def _replica_packing(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not False:
        return
    stuck, free, held = placement.first_fit
    r = placement.replicas[stuck]
    room = [f for f, n in zip(free, held) if f >= r.units and r.per_node is not None and n >= r.per_node]
    if room:
        blocked = _(
            "finds no node it may go to: the nodes with {cpus} CPU free already hold max_replicas_per_node "
            "({per_node}) of its replicas",
            cpus=f"{r.cpus:g}",
            per_node=r.per_node,
        )
    else:
        most = max(free, default=0) / UNIT
        blocked = _(
            "finds no node with {cpus} CPU free (the most left on one node is {most})",
            cpus=f"{r.cpus:g}",
            most=f"{most:g}",
        )
    yield _(
        "the replicas need {needed} CPUs and the cluster has {total}, but each replica needs its CPUs on ONE node and "
        "no placement fits them all ({layout}): placing the largest first, a replica of {label} ({cpus} CPU{note}) "
        "{blocked}. Serve would leave it PENDING forever. To fix it, {fixes}.",
        needed=f"{placement.needed:g}",
        total=f"{placement.total:g}",
        layout=placement.describe_nodes(),
        label=r.label,
        cpus=f"{r.cpus:g}",
        note=r.default_note,
        blocked=blocked,
        fixes=placement.fixes(stuck),
    )


@rule(
    "replica-placement",
    N_("the replicas fit whatever node Serve puts each one on (not only with one particular placement)"),
    "warning",
)
def _replica_placement(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not True or not placement.blocking:
        return
    path, stuck = placement.blocking
    r = placement.replicas[stuck]
    free = placement.free_after(path)
    yield _(
        "the replicas fit only if Serve places them well: Serve spreads replicas over the nodes as they start, and "
        "if they land as {path}, a replica of {label} ({cpus} CPU{note}) finds no node with {cpus} CPU free (at most "
        "{most} is left on one node): it stays PENDING and application {app} never becomes RUNNING. To fix it, "
        "{fixes}: then every placement fits.",
        path=placement.describe_path(path),
        label=r.label,
        cpus=f"{r.cpus:g}",
        note=r.default_note,
        most=f"{max(free, default=0) / UNIT:g}",
        app=repr(r.app),
        fixes=placement.fixes(stuck),
    )


def _placement(ctx: Context) -> Placement | None:
    """The placement analysis, once per manifest; None while the Serve config or the cluster is broken."""
    if not (ctx.serve_ok and ctx.cluster_ok):
        return None
    if ctx.placement is None:
        autoscaling = bool(ctx.cluster.get("enableInTreeAutoscaling"))
        ctx.placement = Placement(_deployments(ctx.serve_config), _nodes(ctx.cluster), autoscaling)
    return ctx.placement


def _nodes(cluster: dict) -> list[NodeGroup]:
    """The head and every worker group; with the in-tree autoscaler, a group's maxReplicas nodes."""
    autoscaling = bool(cluster.get("enableInTreeAutoscaling"))
    nodes = [NodeGroup(_("head"), num_cpus(cluster["headGroupSpec"]), 1)]
    for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
        count = worker_replicas(group)
        high = int(group.get("maxReplicas", worker_default("maxReplicas")))
        if autoscaling and group.get("suspend") is not True:
            count = max(count, high * int(group.get("numOfHosts", worker_default("numOfHosts"))))
        label = _("worker group {group}", group=repr(group.get("groupName")))
        nodes.append(NodeGroup(label, num_cpus(group), count, i, high))
    return [n for n in nodes if n.count]


def _deployments(serve_config: dict) -> list[Replicas]:
    """The replicas of every deployment listed in the config (num_replicas 1 when unset; with autoscaling,
    its initial_replicas or min_replicas, the replicas Serve starts with)."""
    out = []
    for app in serve_config.get("applications") or []:
        for d in app.get("deployments") or []:
            count = d.get("num_replicas")
            scaling = d.get("autoscaling_config") if isinstance(d.get("autoscaling_config"), dict) else {}
            if count == "auto" or (count is None and scaling):
                count = scaling.get("initial_replicas") or scaling.get("min_replicas", 1)
            count = 1 if count is None else count
            if not isinstance(count, int) or isinstance(count, bool):
                continue
            cpus = (d.get("ray_actor_options") or {}).get("num_cpus")
            per_node = d.get("max_replicas_per_node")
            per_node = per_node if isinstance(per_node, int) and not isinstance(per_node, bool) else None
            cpus_set = cpus is not None
            out.append(
                Replicas(app.get("name"), d.get("name"), float(cpus) if cpus_set else 1.0, count, per_node, cpus_set)
            )
    return out
