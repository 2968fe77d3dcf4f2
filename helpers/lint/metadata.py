"""The manifest's header: apiVersion, kind, and metadata as KubeRay v1.7.0 accepts it.

The name rules are KubeRay's ``ValidateRayServiceMetadata`` (utils/validation.go): a DNS-1035 label of at
most 47 characters (KubeRay derives the RayCluster's and the Services' names from it), and a valid
``ray.io/initializing-timeout`` annotation.
"""

from __future__ import annotations

import re

from helpers.i18n import N_, _
from helpers.lint.registry import Context, problem, rejected_by_kuberay, rule

API_VERSION = "ray.io/v1"
MAX_NAME_LENGTH = 47  # KubeRay derives Service names from it; longer names are rejected.


@rule("api-version", N_("apiVersion is ray.io/v1 (v1alpha1 is deprecated, removed in KubeRay 1.9)"))
def _api_version(ctx: Context):
    api = ctx.raw.get("apiVersion")
    if api == "ray.io/v1alpha1":
        yield _("apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1")
    elif api != API_VERSION:
        yield _("apiVersion is {api}: write apiVersion: {want}", api=repr(api), want=API_VERSION)


@rule("kind", N_("kind is RayService"))
def _kind(ctx: Context):
    if ctx.raw.get("kind") != "RayService":
        yield _("kind is {kind}: write kind: RayService", kind=repr(ctx.raw.get("kind")))


@rule("name", N_("metadata.name is a valid Kubernetes name"))
def _name(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        yield _("metadata.name is missing: give the RayService a name, e.g. name: ray-serve-app")
    elif len(name) <= MAX_NAME_LENGTH and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name):
        yield _(
            "metadata.name {name} is not a valid Kubernetes name: use lower-case letters, digits and '-', "
            "starting with a letter",
            name=repr(name),
        )


@rule("name-length", N_("metadata.name has at most {count} characters"), count=MAX_NAME_LENGTH)
def _name_length(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        yield _(
            "metadata.name {name} has {count} characters; KubeRay allows at most {limit}: choose a shorter name",
            name=repr(name),
            count=len(name),
            limit=MAX_NAME_LENGTH,
        )


INITIALIZING_TIMEOUT = "ray.io/initializing-timeout"
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+")


@rule(
    "initializing-timeout",
    N_("the {annotation} annotation is a positive duration (5m, 1h) or seconds"),
    annotation=INITIALIZING_TIMEOUT,
)
def _initializing_timeout(ctx: Context):
    value = ctx.annotations.get(INITIALIZING_TIMEOUT)
    if value in (None, ""):
        return
    text = str(value)
    if _GO_DURATION.fullmatch(text) or re.fullmatch(r"[+-]?[0-9]+", text):
        if not re.search(r"[1-9]", text) or text.startswith("-"):
            yield problem(
                f"metadata.annotations.{INITIALIZING_TIMEOUT}",
                _("is {value}, not above zero", value=repr(text)),
                f'{INITIALIZING_TIMEOUT}: "30m"',
                why=rejected_by_kuberay(),
            )
        return
    yield problem(
        f"metadata.annotations.{INITIALIZING_TIMEOUT}",
        _("is {value}, neither a Go duration nor a whole number of seconds", value=repr(text)),
        _('{annotation}: "30m" (or "1h", "600")', annotation=INITIALIZING_TIMEOUT),
        why=rejected_by_kuberay(),
    )
