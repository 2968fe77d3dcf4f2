"""The replica rules: every Serve replica gets its CPUs, whichever nodes KubeRay makes and Serve picks.

They reason about a sound manifest only (the Serve config passed Ray's schema, the cluster KubeRay's),
and leave the search itself to ``helpers.lint.placement``.
"""

from __future__ import annotations

from helpers.lint.groups import num_cpus, worker_default, worker_replicas
from helpers.lint.placement import UNIT, NodeGroup, Placement, Replicas
from helpers.lint.registry import Context, rule


@rule("replica-cpus", "no replica asks for more CPUs than the largest node has")
def _replica_cpus(ctx: Context):
    placement = _placement(ctx)
    if placement is None:
        return
    for r in placement.too_big:
        yield (
            f"deployment {r.deployment!r} of application {r.app!r} asks for {r.cpus:g} CPUs per replica "
            f"(ray_actor_options.num_cpus{'' if r.cpus_set else ', 1 when not set'}), but the largest "
            f"Ray node has {placement.largest:g}: no node can ever hold it. Lower num_cpus (e.g. 0.2) or give "
            "the nodes more CPUs (rayStartParams num-cpus, or resources.limits.cpu)"
        )


@rule("replica-capacity", "all replicas together fit in the cluster's CPUs")
def _replica_capacity(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.too_big or placement.needed <= placement.total + 1e-9:
        return
    biggest = max(placement.replicas, key=lambda r: r.cpus * r.count)
    yield (
        f"the replicas ask for {placement.needed:g} CPUs in all but the cluster has {placement.total:g} (head + "
        f"worker replicas): Serve would leave the extra replicas PENDING forever. The largest share is "
        f"{biggest.deployment!r} of {biggest.app!r} ({biggest.cpus * biggest.count:g} CPUs): lower num_replicas "
        "or num_cpus, or add worker replicas"
    )


@rule("replica-packing", "every replica's CPUs fit on ONE node: the replicas can be packed onto the nodes")
def _replica_packing(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not False:
        return
    stuck, free, held = placement.first_fit
    r = placement.replicas[stuck]
    room = [f for f, n in zip(free, held) if f >= r.units and r.per_node is not None and n >= r.per_node]
    if room:
        blocked = (
            f"finds no node it may go to: the nodes with {r.cpus:g} CPU free already hold max_replicas_per_node "
            f"({r.per_node}) of its replicas"
        )
    else:
        most = max(free, default=0) / UNIT
        blocked = f"finds no node with {r.cpus:g} CPU free (the most left on one node is {most:g})"
    yield (
        f"the replicas need {placement.needed:g} CPUs and the cluster has {placement.total:g}, but each replica "
        f"needs its CPUs on ONE node and no placement fits them all ({placement.describe_nodes()}): placing the "
        f"largest first, a replica of {r.label} ({r.cpus:g} CPU{r.default_note}) {blocked}. Serve would leave "
        f"it PENDING forever. To fix it, {placement.fixes(stuck)}."
    )


@rule(
    "replica-placement",
    "the replicas fit whatever node Serve puts each one on (not only with one particular placement)",
    "warning",
)
def _replica_placement(ctx: Context):
    placement = _placement(ctx)
    if placement is None or placement.fits is not True or not placement.blocking:
        return
    path, stuck = placement.blocking
    r = placement.replicas[stuck]
    free = placement.free_after(path)
    yield (
        f"the replicas fit only if Serve places them well: Serve spreads replicas over the nodes as they start, "
        f"and if they land as {placement.describe_path(path)}, a replica of {r.label} ({r.cpus:g} CPU"
        f"{r.default_note}) finds no node with {r.cpus:g} CPU free (at most {max(free, default=0) / UNIT:g} is "
        f"left on one node): it stays PENDING and application {r.app!r} never becomes RUNNING. "
        f"To fix it, {placement.fixes(stuck)}: then every placement fits."
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
    nodes = [NodeGroup("head", num_cpus(cluster["headGroupSpec"]), 1)]
    for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
        count = worker_replicas(group)
        high = int(group.get("maxReplicas", worker_default("maxReplicas")))
        if autoscaling and group.get("suspend") is not True:
            count = max(count, high * int(group.get("numOfHosts", worker_default("numOfHosts"))))
        nodes.append(NodeGroup(f"worker group {group.get('groupName')!r}", num_cpus(group), count, i, high))
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
