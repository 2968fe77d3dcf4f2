"""Lab 04's decision: of the four changes a ticket asks for, ship now exactly those that leave every serving
replica of ``hello`` running, and leave the others for a maintenance window.

What Serve does with each deployment option is Ray Serve's own classification (``DeploymentConfig``'s
``update_type``, and ``DeploymentVersion.requires_actor_restart``: ``ray_actor_options``, placement groups and
``max_replicas_per_node`` start new replicas); tests/unit/test_checks.py checks ``IN_PLACE`` and ``RESTART``
against the installed Ray. A ``rayClusterConfig`` pod template change makes KubeRay build a new RayCluster.
The lessons showed ``user_config`` (in place), ``runtime_env`` and ``num_cpus`` (new replicas) and a
``rayClusterConfig`` change (a new cluster); the ticket's deployment options are ones they did not classify.
``decision_hint`` returns the one thing to change in the learner's file, or "" when the decision is right;
``helpers.checks.lab04`` then measures it on the cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from helpers.i18n import N_, _
from helpers.lab_files import hello_of
from helpers.manifests import RayServiceManifest

# Deployment options Serve applies to the running replicas, and the ones it starts new replicas for.
IN_PLACE = (
    "num_replicas",
    "max_ongoing_requests",
    "max_queued_requests",
    "user_config",
    "autoscaling_config",
    "graceful_shutdown_timeout_s",
    "graceful_shutdown_wait_loop_s",
    "health_check_period_s",
    "health_check_timeout_s",
    "logging_config",
)
RESTART = ("ray_actor_options", "placement_group_bundles", "placement_group_strategy", "max_replicas_per_node")

# The ticket: hello's deployment Hello options (item letter -> (option, value, what it asks for)), and one
# rayClusterConfig change (the worker pods' CPUs). Right answer: ship A and B, leave C and D for the window.
TICKET = {
    "A": ("num_replicas", 4, N_("run 4 replicas of Hello instead of 2")),
    "B": (
        "max_ongoing_requests",
        10,
        N_("let each replica work on up to 10 requests at once, not Serve's default of 5"),
    ),
    "C": ("max_replicas_per_node", 2, N_("never more than 2 replicas of Hello on one node")),
}
TICKET_CLUSTER = ("D", N_("give the worker pods 2 CPUs instead of 1 in resources.limits.cpu"))
SHIP_NOW = {option: value for option, value, _text in TICKET.values() if option in IN_PLACE}


def _item(option: str) -> str:
    return next(letter for letter, (name, _value, _text) in TICKET.items() if name == option)


def _sizes_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The two rayClusterConfigs differ only in worker group sizes (replicas, minReplicas, maxReplicas)."""
    old, new = copy.deepcopy(old), copy.deepcopy(new)
    for cluster in (old, new):
        for group in cluster.get("workerGroupSpecs") or []:
            for key in ("replicas", "minReplicas", "maxReplicas"):
                group.pop(key, None)
    return old == new


def _outside_serve_and_cluster(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The fields that differ outside spec.serveConfigV2 and spec.rayClusterConfig (metadata.name, spec.X...)."""
    fields = []
    for top in sorted(set(old) | set(new)):
        a, b = old.get(top), new.get(top)
        if isinstance(a, dict) and isinstance(b, dict):
            skip = ("serveConfigV2", "rayClusterConfig") if top == "spec" else ()
            fields += [f"{top}.{k}" for k in sorted(set(a) | set(b)) if k not in skip and a.get(k) != b.get(k)]
        elif a != b:
            fields.append(top)
    return fields


def decision_hint(baseline: RayServiceManifest, manifest: RayServiceManifest) -> str:
    """ "" when the file ships exactly the ticket's changes Serve applies in place; else the one thing to fix."""
    outside = _outside_serve_and_cluster(baseline.raw, manifest.raw)
    if outside:
        return _(
            "you changed {fields}, which the ticket does not ask for: the RayService stays the one that runs now "
            "(another name is another RayService, with a cluster of its own). Put it back as it runs now.",
            fields=", ".join(outside),
        )
    if manifest.cluster_config != baseline.cluster_config:
        if _sizes_only(baseline.cluster_config, manifest.cluster_config):
            return _(
                "you changed a worker group's size in rayClusterConfig: the ticket does not ask for it. Put "
                "rayClusterConfig back as it runs now."
            )
        letter, text = TICKET_CLUSTER
        return _(
            "you changed rayClusterConfig, where ticket item {item} would go ({text}). A change to its pod "
            "templates makes KubeRay build a whole new RayCluster and move the service there: every replica "
            "serving now is replaced. It cannot go out tonight: put rayClusterConfig back as it runs now.",
            item=letter,
            text=_(text),
        )
    old_app, old = hello_of(baseline.serve_config)
    new_app, new = hello_of(manifest.serve_config)
    if not new:
        return _("keep hello's deployment Hello: the ticket changes its options, it does not remove it.")
    app_changes = [
        k for k in sorted(set(old_app) | set(new_app)) if k != "deployments" and old_app.get(k) != new_app.get(k)
    ]
    ticket = {option: value for option, value, _text in TICKET.values()}
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    extra = app_changes + [k for k in changed if k not in ticket]
    if extra:
        return _(
            "you changed {fields}, which the ticket does not ask for: put it back as it runs now. Ship the ticket's "
            "changes and nothing else.",
            fields=", ".join(extra),
        )
    for option, value, text in TICKET.values():
        if option in changed and new.get(option) != value:
            return _(
                "ticket item {item} asks for {option}: {value} ({text}); your file has {option}: {yours}.",
                item=_item(option),
                option=option,
                value=value,
                text=_(text),
                yours=new.get(option),
            )
    for option in changed:
        if option in RESTART:
            return _(
                "you ship ticket item {item} ({option}) now. Serve cannot apply {option} to a running replica: "
                "it decides where and how a replica's process runs, so Serve starts new replicas and stops the "
                "serving ones. Leave it for the maintenance window: take it out of your file.",
                item=_item(option),
                option=option,
            )
    missing = [option for option in SHIP_NOW if option not in changed]
    if missing:
        option = missing[0]
        if not changed:
            return _(
                "your file is the same as the running version: nothing from the ticket ships. Which items can "
                "Serve apply to the running replicas? Those go out now."
            )
        return _(
            "ticket item {item} ({option}: {value}) is not in your update, but Serve applies {option} to the "
            "running replicas without restarting them: it can ship now. Ship every item that can go out without "
            "stopping a replica.",
            item=_item(option),
            option=option,
            value=SHIP_NOW[option],
        )
    return ""
