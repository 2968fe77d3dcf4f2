"""KubeRay v1.7.0's own validation (ray-operator/controllers/ray/utils/validation.go) as rules of ours.

The API server accepts a RayService these rules refuse: KubeRay then refuses it itself, as an event and
a condition on the RayService, and builds nothing. ``ValidateRayServiceSpec`` and the ``ValidateRayClusterSpec``
it calls, with the feature gates at their v1.7.0 defaults (RayJobDeletionPolicy and
RayServiceIncrementalUpgrade on; RayClusterNetworkPolicy, RayClusterMTLS, RayClusterHistoryServer off). The
name rules are in ``helpers.lint.metadata``, the GCS fault tolerance ones KubeRay shares with Ray in
``helpers.lint.cluster``. Each message quotes what KubeRay checks and says what to write instead.
"""

from __future__ import annotations

import re
from typing import Any

from helpers.lint.groups import containers, env_names, head_container, version_tuple, worker_groups
from helpers.lint.registry import Context, problem, rule

KUBERAY = "KubeRay v1.7.0 rejects the RayService"
CLUSTER = "spec.rayClusterConfig"
UPGRADE_TYPES = ("NewClusterWithIncrementalUpgrade", "NewCluster", "None")
RAY_START_RESOURCES = ("num-cpus", "num-gpus", "memory", "resources")
AUTOSCALER_V2_ENV = "RAY_enable_autoscaler_v2"
FEATURE_GATED = {  # off by default in KubeRay v1.7.0
    "historyServerOptions": "RayClusterHistoryServer",
    "networkPolicy": "RayClusterNetworkPolicy",
    "tlsOptions": "RayClusterMTLS",
}
# Kubernetes' IsQualifiedName and IsValidLabelValue.
_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}")
_LABEL_VALUE = re.compile(rf"({_NAME})?")


def _autoscaling(cluster: dict) -> bool:
    return cluster.get("enableInTreeAutoscaling") is True


def _autoscaler_v2(cluster: dict) -> bool:
    """autoscalerOptions.version v2, or the head's RAY_enable_autoscaler_v2 env set to 1/true (KubeRay < 1.4)."""
    options = cluster.get("autoscalerOptions")
    if isinstance(options, dict) and options.get("version") == "v2":
        return True
    return _env_value(head_container(cluster), AUTOSCALER_V2_ENV) in ("1", "true")


def _env_value(container: dict | None, name: str) -> Any:
    for env in (container or {}).get("env") or []:
        if isinstance(env, dict) and env.get("name") == name:
            return env.get("value")
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _groups(cluster: dict) -> list[tuple[str, str, dict]]:
    """(path, KubeRay's name for it, group) for the head and every worker group."""
    head = cluster.get("headGroupSpec")
    out = [(f"{CLUSTER}.headGroupSpec", "Head", head)] if isinstance(head, dict) else []
    for i, group in worker_groups(cluster):
        out.append((f"{CLUSTER}.workerGroupSpecs[{i}]", str(group.get("groupName")), group))
    return out


@rule("group-containers", "the head and every worker group have a container (KubeRay's Ray container)")
def _group_containers(ctx: Context):
    for where, _, group in _groups(ctx.cluster):
        spec = (group.get("template") or {}).get("spec") if isinstance(group.get("template"), dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("containers"), list) and not containers(group):
            yield problem(
                f"{where}.template.spec.containers",
                "is empty: KubeRay needs the Ray container there",
                "containers: [{name: ray-worker, image: rayproject/ray:<version>}]",
                why=KUBERAY,
            )


@rule("worker-replicas", "every worker group has 0 <= minReplicas <= maxReplicas")
def _worker_replicas(ctx: Context):
    # Without autoscaling KubeRay also wants both set; the CRD's defaults (0 and 2^31-1) always set them.
    for i, group in worker_groups(ctx.cluster):
        where = f"{CLUSTER}.workerGroupSpecs[{i}]"
        low, high = _int(group.get("minReplicas")), _int(group.get("maxReplicas"))
        for key, value in (("minReplicas", low), ("maxReplicas", high)):
            if value is not None and value < 0:
                yield problem(f"{where}.{key}", f"is {value}, below 0", f"{key}: 0 or more", why=KUBERAY)
        if low is not None and high is not None and 0 <= high < low:
            yield problem(
                where, f"minReplicas {low} is greater than maxReplicas {high}", f"maxReplicas: {low}", why=KUBERAY
            )


@rule("group-resources", "a group sets its Ray resources in rayStartParams or in resources, not in both")
def _group_resources(ctx: Context):
    for where, _, group in _groups(ctx.cluster):
        params = group.get("rayStartParams") if isinstance(group.get("rayStartParams"), dict) else {}
        both = [k for k in RAY_START_RESOURCES if params.get(k) not in (None, "")]
        if both and group.get("resources"):
            yield problem(
                where,
                f"sets rayStartParams {', '.join(both)} and resources both",
                f"only resources: {{cpu: ...}} (and remove rayStartParams {', '.join(both)})",
                why=KUBERAY,
            )


@rule("group-labels", "a group's labels are valid Kubernetes labels, set in labels (not rayStartParams)")
def _group_labels(ctx: Context):
    for where, _, group in _groups(ctx.cluster):
        params = group.get("rayStartParams") if isinstance(group.get("rayStartParams"), dict) else {}
        if "labels" in params:
            yield problem(
                f"{where}.rayStartParams.labels", "is not supported", "labels: {key: value} on the group", why=KUBERAY
            )
        labels = group.get("labels") if isinstance(group.get("labels"), dict) else {}
        for key, value in labels.items():
            if len(str(key).split("/")[-1]) > 63 or not _LABEL_KEY.fullmatch(str(key)):
                yield problem(
                    f"{where}.labels", f"key {key!r} is not a valid label key", "e.g. ray.io/zone", why=KUBERAY
                )
            if len(str(value)) > 63 or not _LABEL_VALUE.fullmatch(str(value)):
                yield problem(
                    f"{where}.labels.{key}",
                    f"value {value!r} is not a valid label value",
                    "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
                    why=KUBERAY,
                )


@rule("gcs-settings", "GCS fault tolerance is set only in gcsFaultToleranceOptions (no annotation, no Redis username)")
def _gcs_settings(ctx: Context):
    cluster, annotations = ctx.cluster, ctx.annotations
    options = cluster.get("gcsFaultToleranceOptions")
    write = "only rayClusterConfig.gcsFaultToleranceOptions"
    if isinstance(options, dict):
        for name, field_ in (
            ("ray.io/ft-enabled", "gcsFaultToleranceOptions"),
            ("ray.io/external-storage-namespace", "gcsFaultToleranceOptions.externalStorageNamespace"),
        ):
            if annotations.get(name):
                yield problem(
                    "metadata.annotations", f"sets {name} next to gcsFaultToleranceOptions", field_, why=KUBERAY
                )
        if options.get("backend", "redis") == "redis" and options.get("storage") is not None:
            yield problem(
                f"{CLUSTER}.gcsFaultToleranceOptions.storage",
                "only applies to the rocksdb backend, and this one is redis",
                "remove storage",
                why=KUBERAY,
            )
    params = (
        (cluster.get("headGroupSpec") or {}).get("rayStartParams")
        if isinstance(cluster.get("headGroupSpec"), dict)
        else None
    )
    if (isinstance(params, dict) and params.get("redis-username")) or "REDIS_USERNAME" in env_names(
        head_container(cluster)
    ):
        yield problem(
            f"{CLUSTER}.headGroupSpec",
            "sets the Redis username in rayStartParams redis-username or the REDIS_USERNAME env",
            f"{write}.redisUsername",
            why=KUBERAY,
        )


@rule("autoscaler", "the autoscaler settings agree: v2 options only with enableInTreeAutoscaling, in one place")
def _autoscaler(ctx: Context):
    cluster = ctx.cluster
    on, v2 = _autoscaling(cluster), _autoscaler_v2(cluster)
    env = _env_value(head_container(cluster), AUTOSCALER_V2_ENV)
    options = cluster.get("autoscalerOptions") if isinstance(cluster.get("autoscalerOptions"), dict) else {}
    if not on and env in ("1", "true"):
        yield problem(
            f"{CLUSTER}.headGroupSpec",
            f"sets {AUTOSCALER_V2_ENV}={env} without the autoscaler",
            "enableInTreeAutoscaling: true (or remove the env)",
            why=KUBERAY,
        )
    if on and options.get("version") is not None and env is not None:
        yield problem(
            f"{CLUSTER}.autoscalerOptions.version",
            f"and the head's {AUTOSCALER_V2_ENV} env are both set",
            "only autoscalerOptions.version: v2 (remove the env)",
            why=KUBERAY,
        )
    timeout = _int(options.get("idleTimeoutSeconds"))
    if timeout is not None and timeout < 0:
        yield problem(f"{CLUSTER}.autoscalerOptions.idleTimeoutSeconds", f"is {timeout}", "0 or more", why=KUBERAY)
    if any(
        isinstance(e, dict) and e.get("name") == "KUBERAY_GEN_AUTOSCALER_START_CMD" for e in options.get("env") or []
    ):
        yield problem(
            f"{CLUSTER}.autoscalerOptions.env",
            "sets KUBERAY_GEN_AUTOSCALER_START_CMD, which KubeRay manages",
            "remove it",
            why=KUBERAY,
        )
    for where, name, group in _groups(cluster):
        spec = (group.get("template") or {}).get("spec") or {}
        if on and v2 and spec.get("restartPolicy") not in (None, "", "Never"):
            yield problem(
                f"{where}.template.spec.restartPolicy",
                f"is {spec['restartPolicy']}, but autoscaler v2 needs Never",
                "restartPolicy: Never (or remove it)",
                why=KUBERAY,
            )
        if name == "Head":
            continue
        if on and group.get("suspend") is True:
            yield problem(
                f"{where}.suspend",
                "is true, but a group cannot be suspended with the autoscaler on",
                "suspend: false",
                why=KUBERAY,
            )
        idle = _int(group.get("idleTimeoutSeconds"))
        if idle is not None and idle < 0:
            yield problem(f"{where}.idleTimeoutSeconds", f"is {idle}", "0 or more", why=KUBERAY)
        elif idle is not None and not v2:
            yield problem(
                f"{where}.idleTimeoutSeconds",
                "is set, but autoscaler v2 is not on",
                "autoscalerOptions: {version: v2} (or remove idleTimeoutSeconds)",
                why=KUBERAY,
            )
        priority = _int(group.get("priority"))
        if priority:
            version = version_tuple(str(cluster.get("rayVersion") or ""))
            if version is None or version < (2, 56, 0):
                yield problem(
                    f"{where}.priority",
                    f"is set, but Ray {cluster.get('rayVersion')} is older than 2.56.0",
                    "remove priority (or use Ray 2.56.0 or later)",
                    why=KUBERAY,
                )
            elif not v2:
                yield problem(
                    f"{where}.priority",
                    "is set, but autoscaler v2 is not on",
                    "autoscalerOptions: {version: v2} (or remove priority)",
                    why=KUBERAY,
                )


@rule("feature-gates", "no field that needs a KubeRay feature gate which is off by default (history server, mTLS...)")
def _feature_gates(ctx: Context):
    for key, gate in FEATURE_GATED.items():
        if ctx.cluster.get(key) is not None:
            yield problem(
                f"{CLUSTER}.{key}", f"needs KubeRay's {gate} feature gate, off by default", f"remove {key}", why=KUBERAY
            )


@rule("auth-options", "authOptions as KubeRay accepts it for a RayService (token mode needs Ray >= 2.52)")
def _auth_options(ctx: Context):
    auth = ctx.cluster.get("authOptions")
    if not isinstance(auth, dict):
        return
    where = f"{CLUSTER}.authOptions"
    if auth.get("enableK8sTokenAuth") is True:
        yield problem(
            f"{where}.enableK8sTokenAuth",
            "is true, but a RayService does not support it",
            "mode: token without enableK8sTokenAuth",
            why=KUBERAY,
        )
    elif auth.get("mode") == "token":
        version = version_tuple(str(ctx.cluster.get("rayVersion") or ""))
        if version is None or version < (2, 52, 0):
            yield problem(
                where,
                f"mode token needs Ray 2.52.0 or later, and rayVersion is {ctx.cluster.get('rayVersion')!r}",
                'rayVersion: "2.52.0" or later',
                why=KUBERAY,
            )


@rule("head-service-name", "headGroupSpec.headService sets no metadata.name (KubeRay names the head Service)")
def _head_service_name(ctx: Context):
    head = ctx.cluster.get("headGroupSpec")
    service = head.get("headService") if isinstance(head, dict) else None
    meta = service.get("metadata") if isinstance(service, dict) else None
    if isinstance(meta, dict) and meta.get("name"):
        yield problem(
            f"{CLUSTER}.headGroupSpec.headService.metadata.name",
            "is set: KubeRay names the head Service itself",
            "remove name",
            why=KUBERAY,
        )


@rule("upgrade-strategy", "upgradeStrategy is one KubeRay knows, with the options it needs")
def _upgrade_strategy(ctx: Context):
    if ctx.cluster.get("upgradeStrategy") is not None:
        yield problem(
            f"{CLUSTER}.upgradeStrategy",
            "is set, but a RayCluster made by a RayService cannot have one",
            "spec.upgradeStrategy instead",
            why=KUBERAY,
        )
    # rayClusterDeletionDelaySeconds >= 0: the CRD declares it (minimum: 0), so crd-schema reports it.
    strategy = ctx.spec.get("upgradeStrategy")
    kind = strategy.get("type") if isinstance(strategy, dict) else None
    if kind is None:
        return
    if kind not in UPGRADE_TYPES:
        from helpers.lint.registry import did_you_mean

        yield problem(
            "spec.upgradeStrategy.type",
            f"is {kind!r}, not one of {', '.join(UPGRADE_TYPES)}",
            f"type: {did_you_mean(kind, UPGRADE_TYPES) or 'NewCluster'}",
            why=KUBERAY,
        )
    elif kind == "NewClusterWithIncrementalUpgrade":
        yield from _incremental(ctx, strategy.get("clusterUpgradeOptions"))


def _incremental(ctx: Context, options: Any):
    where = "spec.upgradeStrategy"
    if not _autoscaling(ctx.cluster):
        yield problem(
            where,
            "NewClusterWithIncrementalUpgrade needs the Ray autoscaler",
            f"{CLUSTER}.enableInTreeAutoscaling: true (or type: NewCluster)",
            why=KUBERAY,
        )
    if not isinstance(options, dict):
        yield problem(
            where,
            "NewClusterWithIncrementalUpgrade needs clusterUpgradeOptions",
            "clusterUpgradeOptions: {gatewayClassName: ..., stepSizePercent: 10, intervalSeconds: 30}",
            why=KUBERAY,
        )
        return
    where += ".clusterUpgradeOptions"
    surge, step = _int(options.get("maxSurgePercent", 100)), _int(options.get("stepSizePercent"))
    if surge is not None and not 0 <= surge <= 100:
        yield problem(f"{where}.maxSurgePercent", f"is {surge}", "a percentage from 0 to 100", why=KUBERAY)
    elif step is not None and not 0 <= step <= 100:
        yield problem(f"{where}.stepSizePercent", f"is {step}", "a percentage from 0 to 100", why=KUBERAY)
    elif step is not None and surge is not None and step > surge:
        yield problem(
            f"{where}.stepSizePercent",
            f"{step} is more than maxSurgePercent {surge}",
            f"stepSizePercent: {surge} or less",
            why=KUBERAY,
        )
    interval = _int(options.get("intervalSeconds"))
    if interval is not None and interval <= 0:
        yield problem(f"{where}.intervalSeconds", f"is {interval}", "a number of seconds above 0", why=KUBERAY)
    if options.get("gatewayClassName") == "":
        yield problem(f"{where}.gatewayClassName", "is empty", "the name of a Gateway API GatewayClass", why=KUBERAY)
