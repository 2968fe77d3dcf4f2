"""Lab 01's second half: the learner fixed how the article's manifest is written, and kept *what* it runs.

The linter accepts many manifests that run something else than the article's service: the worker group
removed or emptied, another ``import_path``, other replica counts or CPUs, a node Ray gives no CPU to. Lab
01's task keeps the article's service, so ``article_kept`` compares the learner's manifest with the article
(``labs/broken/article-ray-service.yaml``, whose values are written out below and checked against the file by
tests/unit/test_checks.py) and returns the one thing to put back, or "" when all of it is kept.
``helpers.checks.lab01`` calls it after the linter; on a cluster (host, kind) ``on_cluster`` then makes the Secret
the manifest reads and has the API server validate the manifest (a server-side dry run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import display
from helpers.i18n import _
from helpers.lint.groups import containers, worker_replicas
from helpers.manifests import RayServiceManifest

# The article's service, as labs/broken/article-ray-service.yaml writes it (camelCase there).
NAME = "ray-serve-app"
APP = {"name": "hello", "route_prefix": "/hello", "import_path": "hello_app:app"}
DEPLOYMENT = {"name": "Hello", "num_replicas": 2, "num_cpus": 0.2}
WORKER_GROUP = "workers"
WORKER_NODES = 1
IMAGE = "rayproject/ray:"
SERVE_PORT = 8000


def article_kept(manifest: RayServiceManifest) -> str:
    """ "" when the manifest runs the article's service on the article's cluster; else what to put back."""
    return _service(manifest) or _cluster(manifest.cluster_config) or _containers(manifest.cluster_config)


def secret_ref_problem(name: str, ref: dict[str, Any], where: str) -> str:
    """A ``secretKeyRef`` that lints clean but does not hand the container its key: marked optional (the pod
    starts without it when the Secret or key is missing), or reading another key of the Secret than the one
    the variable is named after (the Secret the task makes holds each key under its own name)."""
    if ref.get("optional") is True:
        return _(
            "env {name} in the {where} container reads its Secret with optional: true: the pod then starts "
            "without the key when the Secret or the key is missing, and the app fails later, at its first call "
            "that needs it. Remove optional (a missing key should stop the pod where you can see it).",
            name=name,
            where=where,
        )
    if str(ref.get("key")) != name:
        return _(
            "env {name} in the {where} container reads key {key} of the Secret: the Secret holds each key under "
            "its own name (kubectl create secret generic ... --from-literal={name}=...), so write key: {name}.",
            name=name,
            where=where,
            key=repr(ref.get("key")),
        )
    return ""


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
    extra = sorted(set(hello) - {*APP, "deployments"})
    if extra:
        return _(
            "hello has {keys}, which the article's application does not: remove them (the article's keys move "
            "to a Secret; the rest of the application stays as it was).",
            keys=", ".join(extra),
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
        options = sorted(
            [k for k in deployments[0] if k not in ("name", "num_replicas", "ray_actor_options")]
            + [f"ray_actor_options.{k}" for k in deployments[0].get("ray_actor_options") or {} if k != "num_cpus"]
        )
        if options:
            return _(
                "Hello has {options}, which the article's deployment does not: remove them (the article sets "
                "num_replicas and ray_actor_options.num_cpus only).",
                options=", ".join(options),
            )
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
    for key in ("suspend", "enableInTreeAutoscaling"):
        if cluster.get(key):
            return _(
                "rayClusterConfig sets {key}: true, which the article's cluster does not (suspend stops every Ray "
                "pod, the autoscaler changes the number of worker nodes). Remove it.",
                key=key,
            )
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


def _containers(cluster: dict[str, Any]) -> str:
    """Each Ray container runs what KubeRay starts in the article's image; the head's serve port is Serve's."""
    groups = [(_("head"), cluster["headGroupSpec"])] + [
        (_("worker group {group}", group=g.get("groupName")), g) for g in cluster.get("workerGroupSpecs") or []
    ]
    for where, group in groups:
        for container in containers(group)[:1]:
            if not str(container.get("image", "")).startswith(IMAGE):
                return _(
                    "the {where} container runs image {image}: keep the article's image, {article}, and change "
                    "only its tag (to the version in rayVersion).",
                    where=where,
                    image=repr(container.get("image")),
                    article=IMAGE.rstrip(":"),
                )
            for key in ("command", "args"):
                if container.get(key):
                    return _(
                        "the {where} container sets {key}: KubeRay starts Ray with its own command, and what you "
                        "add runs before it (a command that does not end never starts Ray). The article sets "
                        "none: remove it.",
                        where=where,
                        key=key,
                    )
    head = containers(cluster["headGroupSpec"])[:1]
    ports = {p.get("name"): p.get("containerPort") for c in head for p in c.get("ports") or [] if isinstance(p, dict)}
    if ports.get("serve") != SERVE_PORT:
        return _(
            "the head's port named serve is {port}: Serve answers on the article's port 8000, and KubeRay's "
            "serve Service sends its traffic to the port named serve. Name containerPort 8000 serve.",
            port=ports.get("serve"),
        )
    return ""


# -- on a cluster (host, kind): the Secret made, and the API server's own verdict --------------------------------

PLACEHOLDER = "lab01-not-a-real-key"  # the tutorial's app never reads the keys: a real one never goes in a lab


def on_cluster(backend, path: Path, secret: str, keys: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """Make the Secret the manifest reads (placeholder values, as `kubectl create secret generic` would; an existing
    one is kept), then ask the API server to validate the manifest with a server-side dry run (nothing is created).
    (hint or None, details)"""
    from helpers.lab_files import shown

    # What a learner types: each key from the environment variable of its name, never written in a file.
    literals = " ".join(f'--from-literal={key}="${key}"' for key in keys)
    print(f"$ kubectl create secret generic {secret} {literals} -n {backend.namespace}")
    labels = {"app.kubernetes.io/part-of": "rayservice-tutorial"}
    created = backend.kube.create_secret(backend.namespace, secret, dict.fromkeys(keys, PLACEHOLDER), labels)
    made = (
        _("Secret {secret} created in {ns}", secret=secret, ns=backend.namespace)
        if created
        else _("Secret {secret} already in {ns} (kept)", secret=secret, ns=backend.namespace)
    )
    command = backend.kubectl.dry_run(shown(path))
    result = backend.commands.run(list(command.args), check=False, timeout=60)
    print(display.shell(command))
    print((result.stdout + result.stderr).rstrip())
    if not result.ok:
        message = (result.stderr or result.stdout).strip()[-600:]
        return _("The API server refuses the manifest (server-side dry run): {message}", message=message), [made]
    return None, [made, _("the API server accepts it: {command} (nothing created)", command=command.text)]
