"""Lab 01's second half: the learner fixed how the article's manifest is written, and kept *what* it runs.

The linter accepts many manifests that run something else than the article's service: the worker group
removed or emptied, another ``import_path``, other replica counts or CPUs, a node Ray gives no CPU to. Lab
01's task keeps the article's service, so ``article_kept`` compares the learner's manifest with the article
(``labs/broken/article-ray-service.yaml``, whose values are written out below and checked against the file by
tests/unit/test_checks.py) and returns the one thing to put back, or "" when all of it is kept.
``helpers.checks.lab01`` calls it after the linter.
"""

from __future__ import annotations

from typing import Any

from helpers.i18n import _
from helpers.lint.groups import worker_replicas
from helpers.manifests import RayServiceManifest

# The article's service, as labs/broken/article-ray-service.yaml writes it (camelCase there).
NAME = "ray-serve-app"
APP = {"name": "hello", "route_prefix": "/hello", "import_path": "hello_app:app"}
DEPLOYMENT = {"name": "Hello", "num_replicas": 2, "num_cpus": 0.2}
WORKER_GROUP = "workers"
WORKER_NODES = 1


def article_kept(manifest: RayServiceManifest) -> str:
    """ "" when the manifest runs the article's service on the article's cluster; else what to put back."""
    return _service(manifest) or _cluster(manifest.cluster_config)


def _service(manifest: RayServiceManifest) -> str:
    if manifest.name != NAME:
        return _(
            "metadata.name is {name}: keep the article's name, {article} (kubectl and the clients find the "
            "service and its Services by it).",
            name=repr(manifest.name),
            article=NAME,
        )
    names = [a.get("name") for a in manifest.applications]
    apps = {a.get("name"): a for a in manifest.applications}
    hello = apps.get(APP["name"]) or {}
    if hello.get("route_prefix") != APP["route_prefix"]:
        return _("keep the article's application: name hello at route_prefix /hello.")
    if names != [APP["name"]]:
        return _(
            "the article runs one application, hello; yours runs {names}: remove the others (the task fixes the "
            "article's service, it does not add to it).",
            names=", ".join(map(str, names)),
        )
    if hello.get("import_path") != APP["import_path"]:
        return _(
            "hello's import_path is {value}: the article's is {article}. Keep it: import_path is the code the "
            "replicas run, and another value runs other code or none.",
            value=repr(hello.get("import_path")),
            article=APP["import_path"],
        )
    return _deployment(hello.get("deployments") or [])


def _deployment(deployments: list[dict[str, Any]]) -> str:
    have = [
        {
            "name": d.get("name"),
            "num_replicas": d.get("num_replicas", 1),
            "num_cpus": (d.get("ray_actor_options") or {}).get("num_cpus", 1),
        }
        for d in deployments
        if isinstance(d, dict)
    ]
    if have == [DEPLOYMENT]:
        return ""
    shown = "; ".join(
        _(
            "{name}: num_replicas {replicas}, num_cpus {cpus}",
            name=d["name"],
            replicas=d["num_replicas"],
            cpus=d["num_cpus"],
        )
        for d in have
    )
    return _(
        "the article runs one deployment of hello, Hello, with num_replicas 2 and ray_actor_options num_cpus 0.2; "
        "yours lists {have}. Keep those values: the task changes how they are written (snake_case), not what "
        "they say.",
        have=shown or _("no deployments listed"),
    )


def _cluster(cluster: dict[str, Any]) -> str:
    groups = [g for g in cluster.get("workerGroupSpecs") or [] if isinstance(g, dict)]
    names = [str(g.get("groupName")) for g in groups]
    if names != [WORKER_GROUP]:
        return _(
            "the article's cluster is a head and one worker group, workers; yours has {groups}. Keep that worker "
            "group as the article writes it: the replicas are spread over the head and the worker node, and the "
            "task fixes the manifest, not the cluster's shape.",
            groups=_("worker groups {names}", names=", ".join(names)) if names else _("no worker group"),
        )
    nodes = worker_replicas(groups[0])
    if nodes != WORKER_NODES:
        return _(
            "worker group workers makes {count} worker node(s) (from replicas, minReplicas, maxReplicas, "
            "numOfHosts and suspend); the article's makes 1. Keep replicas: 1 and nothing that changes it.",
            count=nodes,
        )
    for where, group in [(_("head"), cluster.get("headGroupSpec") or {}), (_("worker group workers"), groups[0])]:
        params = group.get("rayStartParams") or {}
        resources = group.get("resources") or {}
        if "num-cpus" in params or any(str(k).lower() == "cpu" for k in resources):
            setting = "rayStartParams num-cpus" if "num-cpus" in params else "resources.cpu"
            return _(
                "the {where} sets {setting}: the article leaves Ray's CPU count alone, and every node runs "
                "replicas of Hello (0.2 CPU each). Remove {setting}: a wrong CPU count leaves a node without "
                "replicas or lets Ray put more on it than it can run.",
                where=where,
                setting=setting,
            )
    return ""
