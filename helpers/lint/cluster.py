"""The cluster rules: what KubeRay v1.7.0 and Ray accept of rayClusterConfig beyond its schema.

The Ray version and its image, the Serve port, GCS fault tolerance, credentials written inline, room for
the two RayClusters of an upgrade. KubeRay's other validation rules are in ``helpers.lint.kuberay``.
"""

from __future__ import annotations

from helpers.i18n import N_, _
from helpers.lint.groups import all_containers, containers, image_ray_version, num_cpus, version_tuple, worker_groups
from helpers.lint.registry import SECRET_NAME, Context, rule

FIRST_FIXED_RAY = (2, 54, 0)  # CVE-2026-27482: Ray <= 2.53 has unauthenticated DELETE endpoints.

# -- rayClusterConfig -------------------------------------------------------------------------


@rule("cluster-config", N_("every group's CPU count is a number Ray can read (rayStartParams num-cpus, resources)"))
def _cluster_config(ctx: Context):
    """What the CRD cannot declare (rayStartParams and resources are maps of strings); and whether the cluster
    is sound enough for the replica rules: no schema error in it, a container in every group."""
    cluster = ctx.spec.get("rayClusterConfig")
    if not isinstance(cluster, dict):
        return  # crd-schema: spec.rayClusterConfig is required
    sound = not any(path[:2] == ("spec", "rayClusterConfig") for path in ctx.schema_errors)
    top = ("spec", "rayClusterConfig")
    groups = [("spec.rayClusterConfig.headGroupSpec", (*top, "headGroupSpec"), cluster.get("headGroupSpec"))]
    groups += [
        (f"spec.rayClusterConfig.workerGroupSpecs[{i}]", (*top, "workerGroupSpecs", i), g)
        for i, g in worker_groups(cluster)
    ]
    for where, loc, group in groups:
        schema_error = any(path[: len(loc)] == loc for path in ctx.schema_errors)
        if schema_error or not isinstance(group, dict) or not containers(group):
            sound = False  # crd-schema or group-containers says what is wrong
            continue
        try:
            num_cpus(group)
        except ValueError:
            sound = False
            yield _(
                "{where}: the CPU count is not a number: write e.g. rayStartParams: {{num-cpus: '1'}} "
                "or limits: {{cpu: '1'}}",
                where=where,
            )
    ctx.cluster_ok = sound


@rule("ray-version", N_("rayVersion matches the tag of every rayproject/ray image"))
def _ray_version(ctx: Context):
    version = ctx.cluster.get("rayVersion")
    for where, container in all_containers(ctx.cluster):
        tag = image_ray_version(container.get("image"))
        if tag and version is not None and str(version) != tag:
            yield _(
                "rayVersion is {version} but {where} container {name} runs image {image}: KubeRay reads rayVersion "
                'to decide how to talk to Ray, so set both to the same version (rayVersion: "{tag}", or change the '
                "image tag)",
                version=repr(str(version)),
                where=where,
                name=repr(container.get("name")),
                image=container.get("image"),
                tag=tag,
            )


@rule("ray-version-cve", N_("Ray is newer than 2.53 (CVE-2026-27482: unauthenticated DELETE endpoints)"), "warning")
def _ray_version_cve(ctx: Context):
    versions = {str(ctx.cluster["rayVersion"])} if ctx.cluster.get("rayVersion") else set()
    versions |= {image_ray_version(c.get("image")) for _where, c in all_containers(ctx.cluster)} - {None}
    for version in sorted(versions):
        parsed = version_tuple(version)
        if parsed and parsed < FIRST_FIXED_RAY:
            from helpers.config import RAY_VERSION

            yield _(
                "Ray {version} is affected by CVE-2026-27482 (unauthenticated DELETE endpoints on the dashboard): "
                "use Ray {fixed} (rayVersion and image tag rayproject/ray:{fixed})",
                version=version,
                fixed=RAY_VERSION,
            )


@rule("serve-port", N_("the head container names its Serve port `serve` (containerPort 8000)"), "warning")
def _serve_port(ctx: Context):
    head = ctx.cluster.get("headGroupSpec")
    heads = containers(head) if isinstance(head, dict) else []
    if not heads:
        return
    ports = heads[0].get("ports") or []
    named = [p for p in ports if isinstance(p, dict) and p.get("name") == "serve"]
    if not named:
        unnamed = [p.get("containerPort") for p in ports if isinstance(p, dict) and not p.get("name")]
        listed = _(" (ports {ports} have no name)", ports=unnamed) if unnamed else ""
        yield _(
            "the head container has no port named 'serve'{listed}: KubeRay builds the <name>-serve-svc Service from "
            "the port named serve, so write ports: - {{containerPort: 8000, name: serve}}",
            listed=listed,
        )


@rule("gcs-fault-tolerance", N_("gcsFaultToleranceOptions as KubeRay v1.7.0 and Ray accept it: Redis, set only there"))
def _gcs_fault_tolerance(ctx: Context):
    options = ctx.cluster.get("gcsFaultToleranceOptions")
    head = ctx.cluster.get("headGroupSpec")
    heads = containers(head) if isinstance(head, dict) else []
    head_env = {e.get("name") for e in (heads[0].get("env") or []) if isinstance(e, dict)} if heads else set()
    if not isinstance(options, dict):
        if "RAY_REDIS_ADDRESS" in head_env:  # KubeRay v1.7.0, utils/validation.go
            yield _(
                "the head container sets RAY_REDIS_ADDRESS, which turns GCS fault tolerance on, but "
                "gcsFaultToleranceOptions is not set: KubeRay rejects the RayService. Remove the env and write "
                "rayClusterConfig.gcsFaultToleranceOptions: {{redisAddress: ..., redisPassword: {{valueFrom: "
                "{{secretKeyRef: ...}}}}}} (see manifests/ray-service-ha.yaml)"
            )
        return
    if options.get("backend") == "rocksdb":
        from helpers.config import RAY_VERSION

        version = ctx.cluster.get("rayVersion") or RAY_VERSION
        yield _(
            "gcsFaultToleranceOptions.backend is rocksdb, but Ray {version}'s GCS has no RocksDB storage (newer "
            "Ray versions add it; KubeRay v1.7.0 also needs its GCSFaultToleranceEmbeddedStorage feature gate): "
            "use Redis: remove backend (or write backend: redis) and storage, and set redisAddress and "
            "redisPassword from a Secret, as in manifests/ray-service-ha.yaml",
            version=version,
        )
        return
    if not options.get("redisAddress"):
        yield _(
            "gcsFaultToleranceOptions has no redisAddress: KubeRay passes it to the head as RAY_REDIS_ADDRESS, "
            'and without it the GCS keeps its tables in the head\'s memory. Write redisAddress: "redis:6379" '
            "(the Service of manifests/redis/)"
        )
    # KubeRay v1.7.0 sets these itself from gcsFaultToleranceOptions and rejects a RayService that sets them too.
    for name, field_ in (("RAY_REDIS_ADDRESS", "redisAddress"), ("REDIS_PASSWORD", "redisPassword")):
        if name in head_env:
            yield _(
                "the head container sets {name} by hand next to gcsFaultToleranceOptions: KubeRay sets it "
                "from gcsFaultToleranceOptions.{field} and rejects the RayService when both are there. Remove "
                "the env entry; write only gcsFaultToleranceOptions.{field}",
                name=name,
                field=field_,
            )
    params = head.get("rayStartParams") if isinstance(head, dict) else None
    if isinstance(params, dict) and "redis-password" in params:
        yield _(
            "headGroupSpec.rayStartParams sets redis-password next to gcsFaultToleranceOptions: KubeRay rejects "
            "the RayService (it passes --redis-password=$REDIS_PASSWORD itself). Remove it; write "
            "gcsFaultToleranceOptions.redisPassword: {{valueFrom: {{secretKeyRef: {{name: redis-password, key: "
            "password}}}}}}"
        )


# -- both: credentials and resources ------------------------------------------------------------


@rule("inline-credentials", N_("no credentials written inline: reference a Kubernetes Secret instead"))
def _inline_credentials(ctx: Context):
    raw_serve = ctx.spec.get("serveConfigV2")
    source = raw_serve if isinstance(raw_serve, dict) else (ctx.serve_config or {})
    apps = source.get("applications") or []
    for i, app in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(app, dict):
            continue
        runtime_env_key = "runtimeEnv" if "runtimeEnv" in app else "runtime_env"
        runtime_env = app.get(runtime_env_key) or {}
        for env_key in ("env", "env_vars", "envVars"):
            env = runtime_env.get(env_key) if isinstance(runtime_env, dict) else None
            names = [k for k in (env if isinstance(env, dict) else {}) if SECRET_NAME.search(str(k))]
            if names:
                yield _(
                    "credentials written inline in serveConfigV2 applications[{i}].{where} ({names}): anyone who "
                    "can read the RayService can read them. Put them in a Kubernetes Secret (kubectl create secret "
                    "generic ...) and reference it from the pod template: env: - name: ... valueFrom: secretKeyRef: "
                    "{{name: ..., key: ...}}",
                    i=i,
                    where=f"{runtime_env_key}.{env_key}",
                    names=", ".join(names),
                )
    for where, container in all_containers(ctx.cluster):
        for env in container.get("env") or []:
            if isinstance(env, dict) and SECRET_NAME.search(str(env.get("name", ""))) and "value" in env:
                yield _(
                    "credentials written inline in rayClusterConfig.{where} container {name} env {env}: use "
                    "valueFrom.secretKeyRef pointing at a Kubernetes Secret instead of value:",
                    where=where,
                    name=repr(container.get("name")),
                    env=repr(env.get("name")),
                )
    options = ctx.cluster.get("gcsFaultToleranceOptions")
    password = options.get("redisPassword") if isinstance(options, dict) else None
    if isinstance(password, dict) and "value" in password:
        yield _(
            "credentials written inline in rayClusterConfig.gcsFaultToleranceOptions.redisPassword.value: anyone "
            "who can read the RayService can read the Redis password. Reference the Secret instead: redisPassword: "
            "{{valueFrom: {{secretKeyRef: {{name: redis-password, key: password}}}}}} (the Secret manifests/redis/ "
            "reads; the kind backend creates it with a random password)"
        )


# The smallest node the tutorial runs on: the host backend's (this 2-core machine), or a kind node on a 2-core
# laptop. Its pods beside the Ray pods on the host node: CoreDNS and the KubeRay operator, 50m each.
SMALL_NODE_CPUS = 2.0
ADDON_CPUS = 0.1


@rule("upgrade-room", N_("two RayClusters' CPU requests fit a 2-CPU node: a new-cluster upgrade runs both"), "warning")
def _upgrade_room(ctx: Context):
    from helpers.quantities import pod_resources

    groups = [(ctx.cluster.get("headGroupSpec"), 1)] + [
        (g, g.get("replicas", 1)) for g in ctx.cluster.get("workerGroupSpecs") or [] if isinstance(g, dict)
    ]
    try:
        need = sum(pod_resources(g["template"])["requests.cpu"] * int(n or 0) for g, n in groups if g)
    except (KeyError, TypeError, ValueError, AttributeError):
        return  # a malformed group: cluster-config says what is wrong
    room = SMALL_NODE_CPUS - ADDON_CPUS
    if 2 * need > room + 1e-9:
        yield _(
            "the Ray pods request {need} CPUs in all, {twice} while a rayClusterConfig change runs two RayClusters, "
            "more than a {node}-CPU node has for them ({room} beside CoreDNS and the operator): the new cluster's "
            "pods would stay Pending and the upgrade never finish. Lower resources.requests.cpu (e.g. 200m); "
            "resources.limits.cpu stays what Ray counts as the pod's CPUs",
            need=f"{need:g}",
            twice=f"{2 * need:g}",
            node=f"{SMALL_NODE_CPUS:g}",
            room=f"{room:g}",
        )
