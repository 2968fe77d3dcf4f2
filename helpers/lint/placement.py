"""The replica-packing search: can Serve's replicas be placed on the Ray nodes, each replica's CPUs on ONE node?

Pure: ``Replicas`` (a deployment's replicas) and ``NodeGroup`` (nodes alike) in, a ``Placement`` out, with
``fits`` (some placement fits: first-fit-decreasing, then an exhaustive search), ``blocking`` (an order in
which Serve could start the replicas that leaves one with no node) and ``fixes()`` (what to write instead,
each option checked). The rules that word its results are in ``helpers.lint.replicas``; the words made here
(a replica's and a node's name, the fixes) are in the learner's language (``helpers.i18n._()``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from helpers.i18n import _

UNIT = 10_000  # Ray counts resources in 1/10000ths of a unit
SEARCH_BUDGET = 5_000  # states explored before the placement search gives up (it then says nothing)
SEARCH_REPLICAS = 200  # more replicas than this: only the sums and first-fit-decreasing are checked


@dataclass(frozen=True)
class Replicas:
    """The replicas of one deployment as Serve schedules them: each one an actor needing ``cpus`` on a node."""

    app: str
    deployment: str
    cpus: float
    count: int
    per_node: int | None = None  # max_replicas_per_node
    cpus_set: bool = True  # num_cpus written (else Serve's default, 1)

    @property
    def units(self) -> int:
        return round(self.cpus * UNIT)

    @property
    def label(self) -> str:
        return _("{deployment} of {app}", deployment=repr(self.deployment), app=repr(self.app))

    @property
    def default_note(self) -> str:
        return "" if self.cpus_set else _(", Serve's default when ray_actor_options.num_cpus is not set")


@dataclass(frozen=True)
class NodeGroup:
    """``count`` Ray nodes with ``cpus`` CPUs each: the head, or a worker group's replicas."""

    label: str
    cpus: float
    count: int
    group: int | None = None  # index in workerGroupSpecs (None: the head)
    max_replicas: int | None = None  # the group's maxReplicas (KubeRay never makes more)


class _OverBudget(Exception):
    pass


@dataclass
class Placement:
    """Can the replicas be placed on the nodes, one replica's CPUs on one node?"""

    replicas: list[Replicas]
    nodes: list[NodeGroup]
    autoscaling: bool = False

    def __post_init__(self) -> None:
        self.largest = max((n.cpus for n in self.nodes), default=0.0)
        self.total = sum(n.cpus * n.count for n in self.nodes)
        self.needed = sum(r.cpus * r.count for r in self.replicas)
        self.too_big = [r for r in self.replicas if r.count and r.units > round(self.largest * UNIT)]
        self.fits: bool | None = None  # None: not checked (too big, over capacity) or the search gave up
        self.first_fit: tuple[int, list[int], list[int]] | None = None
        self.blocking: tuple[list[tuple[int, int]], int] | None = None
        if self.too_big or self.needed > self.total + 1e-9:
            return
        self.fits, self.first_fit = _packs(self.replicas, self._caps())
        if self.fits:
            try:
                self.blocking = _blocking(self.replicas, self._caps())
            except _OverBudget:
                self.blocking = None

    def _caps(self) -> list[int]:
        return [round(n.cpus * UNIT) for n, _ in self._expanded()]

    def _expanded(self) -> list[tuple[NodeGroup, int]]:
        """One entry per node (never more per group than there are replicas: extra nodes change nothing)."""
        most = max(1, sum(r.count for r in self.replicas))
        return [(n, i) for n in self.nodes for i in range(min(n.count, most))]

    def node_name(self, index: int) -> str:
        group, i = self._expanded()[index]
        return group.label if group.count == 1 else _("{group} node {number}", group=group.label, number=i + 1)

    def describe_nodes(self) -> str:
        return ", ".join(
            f"{n.label} {n.cpus:g} CPU" if n.group is None else f"{n.label} {n.count} × {n.cpus:g} CPU"
            for n in self.nodes
        )

    def describe_path(self, path: list[tuple[int, int]]) -> str:
        on: dict[int, dict[int, int]] = {}
        for r, node in path:
            on.setdefault(node, {}).setdefault(r, 0)
            on[node][r] += 1
        parts = []
        for node in sorted(on):
            held = ", ".join(
                f"{n} × {self.replicas[r].label} ({self.replicas[r].cpus:g} CPU)" for r, n in on[node].items()
            )
            parts.append(f"{self.node_name(node)}: {held}")
        return "; ".join(parts)

    def free_after(self, path: list[tuple[int, int]]) -> list[int]:
        free = self._caps()
        for r, node in path:
            free[node] -= self.replicas[r].units
        return free

    def clean(self) -> bool:
        """Every placement fits (no error, no warning)."""
        return self.fits is True and not self.blocking

    def fixes(self, stuck: int) -> str:
        """What to write instead, each option checked: it makes every placement fit."""
        r = self.replicas[stuck]
        options = []
        for cpus in (0.5, 0.25, 0.2, 0.1, 0.05):
            if cpus < r.cpus and self._with(stuck, cpus=cpus, cpus_set=True).clean():
                options.append(
                    _("write ray_actor_options: {{num_cpus: {cpus}}} for {label}", cpus=f"{cpus:g}", label=r.label)
                )
                break
        if r.per_node is not None:
            for per_node in range(r.per_node + 1, r.count + 1):
                if self._with(stuck, per_node=per_node).clean():
                    options.append(_("write max_replicas_per_node: {count} for {label}", count=per_node, label=r.label))
                    break
        workers = [n for n in self.nodes if n.group is not None]
        if workers:
            for extra in range(1, 9):
                more = [dataclasses.replace(n, count=n.count + extra) if n is workers[0] else n for n in self.nodes]
                if Placement(self.replicas, more, self.autoscaling).clean():
                    count = workers[0].count + extra
                    if self.autoscaling:
                        change = f"maxReplicas: {count}"
                    elif workers[0].max_replicas is not None and count > workers[0].max_replicas:
                        change = _("replicas: {count} and maxReplicas: {count}", count=count)
                    else:
                        change = f"replicas: {count}"
                    options.append(_("set {change} in {group}", change=change, group=workers[0].label))
                    break
        if not options:
            return _("lower num_replicas or num_cpus, or give the cluster more nodes or CPUs")
        return _(", or ").join(options)

    def _with(self, index: int, **change: Any) -> Placement:
        replicas = list(self.replicas)
        replicas[index] = dataclasses.replace(replicas[index], **change)
        return Placement(replicas, self.nodes, self.autoscaling)


def _first_fit_decreasing(replicas: list[Replicas], caps: list[int]):
    """Largest replicas first, each on the first node with room: (deployment that did not fit, free, held)."""
    free = list(caps)
    for index in sorted(range(len(replicas)), key=lambda i: -replicas[i].units):
        r = replicas[index]
        held = [0] * len(free)
        for _replica in range(r.count):
            for node in range(len(free)):
                if free[node] >= r.units and (r.per_node is None or held[node] < r.per_node):
                    free[node] -= r.units
                    held[node] += 1
                    break
            else:
                return index, free, held
    return None


def _packs(replicas: list[Replicas], caps: list[int]) -> tuple[bool | None, Any]:
    """(True, None) when some placement fits every replica; (False, first-fit-decreasing's failure) when
    none does; (None, that failure) when the search gave up. First-fit-decreasing decides most cases."""
    failed = _first_fit_decreasing(replicas, caps)
    if failed is None:
        return True, None
    if sum(r.count for r in replicas) > SEARCH_REPLICAS:
        return None, failed
    order = sorted((r for r in replicas if r.count), key=lambda r: -r.units)
    seen: set = set()

    def place(i: int, left: int, nodes: tuple) -> bool:
        # nodes: sorted (free units, replicas of order[i] held): nodes with the same state are alike.
        if left == 0:
            if i + 1 == len(order):
                return True
            return place(i + 1, order[i + 1].count, tuple(sorted((f, 0) for f, _ in nodes)))
        key = (i, left, nodes)
        if key in seen:
            return False
        seen.add(key)
        if len(seen) > SEARCH_BUDGET:
            raise _OverBudget
        r = order[i]
        for state in sorted(set(nodes), reverse=True):
            free, held = state
            if free >= r.units and (r.per_node is None or held < r.per_node):
                rest = list(nodes)
                rest.remove(state)
                if place(i, left - 1, tuple(sorted([*rest, (free - r.units, held + 1)]))):
                    return True
        return False

    try:
        return (place(0, order[0].count, tuple(sorted((c, 0) for c in caps))) if order else True), failed
    except (_OverBudget, RecursionError):
        return None, failed


def _blocking(replicas: list[Replicas], caps: list[int]):
    """A placement order that leaves a replica with no node to go to, as (path, stuck deployment), or None.

    Serve starts replicas one after another (deployments in order, each one spread over the nodes) and
    never moves a running replica, so any order of placements can happen: the search tries them all,
    deployments in config order and the emptiest node first (Serve's SPREAD), nodes in the same state once.
    """
    if sum(r.count for r in replicas) > SEARCH_REPLICAS or _never_blocks(replicas, caps):
        return None
    capped = [i for i, r in enumerate(replicas) if r.per_node is not None]
    seen: set = set()

    def fits(r: int, node: tuple) -> bool:
        rep = replicas[r]
        return node[0] >= rep.units and (rep.per_node is None or node[1][capped.index(r)] < rep.per_node)

    def search(left: tuple, nodes: list[tuple], path: list):
        key = (left, tuple(sorted(nodes)))
        if key in seen:
            return None
        seen.add(key)
        if len(seen) > SEARCH_BUDGET:
            raise _OverBudget
        waiting = [r for r, n in enumerate(left) if n]
        for r in waiting:
            if not any(fits(r, node) for node in nodes):
                return path, r
        for r in waiting:
            tried = set()
            for index in sorted(range(len(nodes)), key=lambda i: -nodes[i][0]):
                node = nodes[index]
                if node in tried or not fits(r, node):
                    continue
                tried.add(node)
                held = list(node[1])
                if r in capped:
                    held[capped.index(r)] += 1
                after = [*nodes[:index], (node[0] - replicas[r].units, tuple(held)), *nodes[index + 1 :]]
                rest = tuple(n - 1 if i == r else n for i, n in enumerate(left))
                found = search(rest, after, [*path, (r, index)])
                if found:
                    return found
        return None

    nodes = [(c, (0,) * len(capped)) for c in caps]
    return search(tuple(r.count for r in replicas), nodes, [])


def _never_blocks(replicas: list[Replicas], caps: list[int]) -> bool:
    """A quick proof that no order blocks: for every deployment, the other replicas together cannot leave
    less than one of its replicas' CPUs free on every node that is large enough (and its per-node limit
    cannot bind). Most clusters with room to spare pass here, and the search is not needed."""
    needed = sum(r.units * r.count for r in replicas)
    for r in replicas:
        if not r.count:
            continue
        if r.per_node is not None and r.count > r.per_node:
            return False
        spare = sum(c - r.units for c in caps if c >= r.units)
        if needed - r.units >= spare + len([c for c in caps if c >= r.units]):
            return False
    return True
