"""KubeRay v1.7.0's own validation (ray-operator/controllers/ray/utils/validation.go) as rules of ours.

The API server accepts a RayService these rules refuse: KubeRay then refuses it itself, as an event and
a condition on the RayService, and builds nothing. ``ValidateRayServiceSpec`` and the ``ValidateRayClusterSpec``
it calls, with the feature gates at their v1.7.0 defaults (RayJobDeletionPolicy and
RayServiceIncrementalUpgrade on; RayClusterNetworkPolicy, RayClusterMTLS, RayClusterHistoryServer off). The
name rules are in ``helpers.lint.metadata``, the GCS fault tolerance ones KubeRay shares with Ray in
``helpers.lint.cluster``. Each message quotes what KubeRay checks and says what to write instead, in the
learner's language (``helpers.i18n._()``: every piece translated where it is made, joined by ``problem()``).
"""

from __future__ import annotations

import re
from typing import Any

from helpers.i18n import N_, _
from helpers.lint.groups import containers, env_names, head_container, version_tuple, worker_groups
from helpers.lint.registry import Context, did_you_mean, problem, rejected_by_kuberay, rule

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


def _rejected(where: str, wrong: str, write: str | None = None) -> str:
    """A finding of KubeRay's validation: ``problem()`` with KubeRay's refusal as the reason."""
    return problem(where, wrong, write, why=rejected_by_kuberay())


def _groups(cluster: dict) -> list[tuple[str, str, dict]]:
    """(path, KubeRay's name for it, group) for the head and every worker group."""
    head = cluster.get("headGroupSpec")
    out = [(f"{CLUSTER}.headGroupSpec", "Head", head)] if isinstance(head, dict) else []
    for i, group in worker_groups(cluster):
        out.append((f"{CLUSTER}.workerGroupSpecs[{i}]", str(group.get("groupName")), group))
    return out


@rule("group-containers", N_("the head and every worker group have a container (KubeRay's Ray container)"))
def _group_containers(ctx: Context):
    for where, _name, group in _groups(ctx.cluster):
        spec = (group.get("template") or {}).get("spec") if isinstance(group.get("template"), dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("containers"), list) and not containers(group):
            yield _rejected(
                f"{where}.template.spec.containers",
                _("is empty: KubeRay needs the Ray container there"),
                "containers: [{name: ray-worker, image: rayproject/ray:<version>}]",
            )


@rule("worker-replicas", N_("every worker group has 0 <= minReplicas <= maxReplicas"))
def _worker_replicas(ctx: Context):
    # Without autoscaling KubeRay also wants both set; the CRD's defaults (0 and 2^31-1) always set them.
    for i, group in worker_groups(ctx.cluster):
        where = f"{CLUSTER}.workerGroupSpecs[{i}]"
        low, high = _int(group.get("minReplicas")), _int(group.get("maxReplicas"))
        for key, value in (("minReplicas", low), ("maxReplicas", high)):
            if value is not None and value < 0:
                yield _rejected(f"{where}.{key}", _("is {value}, below 0", value=value), _at_least_zero(key))
        if low is not None and high is not None and 0 <= high < low:
            yield _rejected(
                where,
                _("minReplicas {low} is greater than maxReplicas {high}", low=low, high=high),
                f"maxReplicas: {low}",
            )


def _at_least_zero(key: str | None = None) -> str:
    return _("{key}: 0 or more", key=key) if key else _("0 or more")


def _remove(key: str) -> str:
    return _("remove {key}", key=key)


@rule("group-resources", N_("a group sets its Ray resources in rayStartParams or in resources, not in both"))
def _group_resources(ctx: Context):
    for where, _name, group in _groups(ctx.cluster):
        params = group.get("rayStartParams") if isinstance(group.get("rayStartParams"), dict) else {}
        both = ", ".join(k for k in RAY_START_RESOURCES if params.get(k) not in (None, ""))
        if both and group.get("resources"):
            yield _rejected(
                where,
                _("sets rayStartParams {keys} and resources both", keys=both),
                _("only resources: {{cpu: ...}} (and remove rayStartParams {keys})", keys=both),
            )


@rule("group-labels", N_("a group's labels are valid Kubernetes labels, set in labels (not rayStartParams)"))
def _group_labels(ctx: Context):
    for where, _name, group in _groups(ctx.cluster):
        params = group.get("rayStartParams") if isinstance(group.get("rayStartParams"), dict) else {}
        if "labels" in params:
            yield _rejected(
                f"{where}.rayStartParams.labels", _("is not supported"), _("labels: {{key: value}} on the group")
            )
        labels = group.get("labels") if isinstance(group.get("labels"), dict) else {}
        for key, value in labels.items():
            if len(str(key).split("/")[-1]) > 63 or not _LABEL_KEY.fullmatch(str(key)):
                yield _rejected(
                    f"{where}.labels",
                    _("key {key} is not a valid label key", key=repr(key)),
                    _("e.g. ray.io/zone"),
                )
            if len(str(value)) > 63 or not _LABEL_VALUE.fullmatch(str(value)):
                yield _rejected(
                    f"{where}.labels.{key}",
                    _("value {value} is not a valid label value", value=repr(value)),
                    _("at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"),
                )


@rule(
    "gcs-settings",
    N_("GCS fault tolerance is set only in gcsFaultToleranceOptions (no annotation, no Redis username)"),
)
def _gcs_settings(ctx: Context):
    cluster, annotations = ctx.cluster, ctx.annotations
    options = cluster.get("gcsFaultToleranceOptions")
    if isinstance(options, dict):
        for name, field_ in (
            ("ray.io/ft-enabled", "gcsFaultToleranceOptions"),
            ("ray.io/external-storage-namespace", "gcsFaultToleranceOptions.externalStorageNamespace"),
        ):
            if annotations.get(name):
                yield _rejected(
                    "metadata.annotations", _("sets {name} next to gcsFaultToleranceOptions", name=name), field_
                )
        if options.get("backend", "redis") == "redis" and options.get("storage") is not None:
            yield _rejected(
                f"{CLUSTER}.gcsFaultToleranceOptions.storage",
                _("only applies to the rocksdb backend, and this one is redis"),
                _remove("storage"),
            )
    params = (
        (cluster.get("headGroupSpec") or {}).get("rayStartParams")
        if isinstance(cluster.get("headGroupSpec"), dict)
        else None
    )
    if (isinstance(params, dict) and params.get("redis-username")) or "REDIS_USERNAME" in env_names(
        head_container(cluster)
    ):
        yield _rejected(
            f"{CLUSTER}.headGroupSpec",
            _("sets the Redis username in rayStartParams redis-username or the REDIS_USERNAME env"),
            _("only {field}", field="rayClusterConfig.gcsFaultToleranceOptions.redisUsername"),
        )


@rule("autoscaler", N_("the autoscaler settings agree: v2 options only with enableInTreeAutoscaling, in one place"))
def _autoscaler(ctx: Context):
    cluster = ctx.cluster
    on, v2 = _autoscaling(cluster), _autoscaler_v2(cluster)
    env = _env_value(head_container(cluster), AUTOSCALER_V2_ENV)
    options = cluster.get("autoscalerOptions") if isinstance(cluster.get("autoscalerOptions"), dict) else {}
    if not on and env in ("1", "true"):
        yield _rejected(
            f"{CLUSTER}.headGroupSpec",
            _("sets {env}={value} without the autoscaler", env=AUTOSCALER_V2_ENV, value=env),
            _("enableInTreeAutoscaling: true (or remove the env)"),
        )
    if on and options.get("version") is not None and env is not None:
        yield _rejected(
            f"{CLUSTER}.autoscalerOptions.version",
            _("and the head's {env} env are both set", env=AUTOSCALER_V2_ENV),
            _("only autoscalerOptions.version: v2 (remove the env)"),
        )
    timeout = _int(options.get("idleTimeoutSeconds"))
    if timeout is not None and timeout < 0:
        yield _rejected(
            f"{CLUSTER}.autoscalerOptions.idleTimeoutSeconds", _("is {value}", value=timeout), _at_least_zero()
        )
    if any(
        isinstance(e, dict) and e.get("name") == "KUBERAY_GEN_AUTOSCALER_START_CMD" for e in options.get("env") or []
    ):
        yield _rejected(
            f"{CLUSTER}.autoscalerOptions.env",
            _("sets KUBERAY_GEN_AUTOSCALER_START_CMD, which KubeRay manages"),
            _("remove it"),
        )
    for where, name, group in _groups(cluster):
        spec = (group.get("template") or {}).get("spec") or {}
        if on and v2 and spec.get("restartPolicy") not in (None, "", "Never"):
            yield _rejected(
                f"{where}.template.spec.restartPolicy",
                _("is {value}, but autoscaler v2 needs Never", value=spec["restartPolicy"]),
                _("restartPolicy: Never (or remove it)"),
            )
        if name == "Head":
            continue
        if on and group.get("suspend") is True:
            yield _rejected(
                f"{where}.suspend",
                _("is true, but a group cannot be suspended with the autoscaler on"),
                "suspend: false",
            )
        idle = _int(group.get("idleTimeoutSeconds"))
        if idle is not None and idle < 0:
            yield _rejected(f"{where}.idleTimeoutSeconds", _("is {value}", value=idle), _at_least_zero())
        elif idle is not None and not v2:
            yield _rejected(
                f"{where}.idleTimeoutSeconds",
                _("is set, but autoscaler v2 is not on"),
                _("autoscalerOptions: {{version: v2}} (or remove {key})", key="idleTimeoutSeconds"),
            )
        priority = _int(group.get("priority"))
        if priority:
            version = version_tuple(str(cluster.get("rayVersion") or ""))
            if version is None or version < (2, 56, 0):
                yield _rejected(
                    f"{where}.priority",
                    _("is set, but Ray {version} is older than 2.56.0", version=cluster.get("rayVersion")),
                    _("remove priority (or use Ray 2.56.0 or later)"),
                )
            elif not v2:
                yield _rejected(
                    f"{where}.priority",
                    _("is set, but autoscaler v2 is not on"),
                    _("autoscalerOptions: {{version: v2}} (or remove {key})", key="priority"),
                )


@rule(
    "feature-gates",
    N_("no field that needs a KubeRay feature gate which is off by default (history server, mTLS...)"),
)
def _feature_gates(ctx: Context):
    for key, gate in FEATURE_GATED.items():
        if ctx.cluster.get(key) is not None:
            yield _rejected(
                f"{CLUSTER}.{key}", _("needs KubeRay's {gate} feature gate, off by default", gate=gate), _remove(key)
            )


@rule("auth-options", N_("authOptions as KubeRay accepts it for a RayService (token mode needs Ray >= 2.52)"))
def _auth_options(ctx: Context):
    auth = ctx.cluster.get("authOptions")
    if not isinstance(auth, dict):
        return
    where = f"{CLUSTER}.authOptions"
    if auth.get("enableK8sTokenAuth") is True:
        yield _rejected(
            f"{where}.enableK8sTokenAuth",
            _("is true, but a RayService does not support it"),
            _("mode: token without enableK8sTokenAuth"),
        )
    elif auth.get("mode") == "token":
        version = version_tuple(str(ctx.cluster.get("rayVersion") or ""))
        if version is None or version < (2, 52, 0):
            yield _rejected(
                where,
                _(
                    "mode token needs Ray 2.52.0 or later, and rayVersion is {version}",
                    version=repr(ctx.cluster.get("rayVersion")),
                ),
                _('rayVersion: "2.52.0" or later'),
            )


@rule("head-service-name", N_("headGroupSpec.headService sets no metadata.name (KubeRay names the head Service)"))
def _head_service_name(ctx: Context):
    head = ctx.cluster.get("headGroupSpec")
    service = head.get("headService") if isinstance(head, dict) else None
    meta = service.get("metadata") if isinstance(service, dict) else None
    if isinstance(meta, dict) and meta.get("name"):
        yield _rejected(
            f"{CLUSTER}.headGroupSpec.headService.metadata.name",
            _("is set: KubeRay names the head Service itself"),
            _remove("name"),
        )


@rule("upgrade-strategy", N_("upgradeStrategy is one KubeRay knows, with the options it needs"))
def _upgrade_strategy(ctx: Context):
    if ctx.cluster.get("upgradeStrategy") is not None:
        yield _rejected(
            f"{CLUSTER}.upgradeStrategy",
            _("is set, but a RayCluster made by a RayService cannot have one"),
            _("{field} instead", field="spec.upgradeStrategy"),
        )
    # rayClusterDeletionDelaySeconds >= 0: the CRD declares it (minimum: 0), so crd-schema reports it.
    strategy = ctx.spec.get("upgradeStrategy")
    kind = strategy.get("type") if isinstance(strategy, dict) else None
    if kind is None:
        return
    if kind not in UPGRADE_TYPES:
        yield _rejected(
            "spec.upgradeStrategy.type",
            _("is {value}, not one of {options}", value=repr(kind), options=", ".join(UPGRADE_TYPES)),
            f"type: {did_you_mean(kind, UPGRADE_TYPES) or 'NewCluster'}",
        )
    elif kind == "NewClusterWithIncrementalUpgrade":
        yield from _incremental(ctx, strategy.get("clusterUpgradeOptions"))


def _incremental(ctx: Context, options: Any):
    where = "spec.upgradeStrategy"
    if not _autoscaling(ctx.cluster):
        yield _rejected(
            where,
            _("NewClusterWithIncrementalUpgrade needs the Ray autoscaler"),
            _("{field}: true (or type: NewCluster)", field=f"{CLUSTER}.enableInTreeAutoscaling"),
        )
    if not isinstance(options, dict):
        yield _rejected(
            where,
            _("NewClusterWithIncrementalUpgrade needs clusterUpgradeOptions"),
            "clusterUpgradeOptions: {gatewayClassName: ..., stepSizePercent: 10, intervalSeconds: 30}",
        )
        return
    where += ".clusterUpgradeOptions"
    surge, step = _int(options.get("maxSurgePercent", 100)), _int(options.get("stepSizePercent"))
    percentage = _("a percentage from 0 to 100")
    if surge is not None and not 0 <= surge <= 100:
        yield _rejected(f"{where}.maxSurgePercent", _("is {value}", value=surge), percentage)
    elif step is not None and not 0 <= step <= 100:
        yield _rejected(f"{where}.stepSizePercent", _("is {value}", value=step), percentage)
    elif step is not None and surge is not None and step > surge:
        yield _rejected(
            f"{where}.stepSizePercent",
            _("{value} is more than maxSurgePercent {surge}", value=step, surge=surge),
            _("stepSizePercent: {surge} or less", surge=surge),
        )
    interval = _int(options.get("intervalSeconds"))
    if interval is not None and interval <= 0:
        yield _rejected(f"{where}.intervalSeconds", _("is {value}", value=interval), _("a number of seconds above 0"))
    if options.get("gatewayClassName") == "":
        yield _rejected(f"{where}.gatewayClassName", _("is empty"), _("the name of a Gateway API GatewayClass"))
