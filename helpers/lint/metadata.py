"""The manifest's header: apiVersion, kind, and metadata as KubeRay v1.7.0 accepts it.

The name rules are KubeRay's ``ValidateRayServiceMetadata`` (utils/validation.go): a DNS-1035 label of at
most 47 characters (KubeRay derives the RayCluster's and the Services' names from it), and a valid
``ray.io/initializing-timeout`` annotation.
"""

from __future__ import annotations

import re

from helpers.lint.registry import Context, problem, rule

API_VERSION = "ray.io/v1"
MAX_NAME_LENGTH = 47  # KubeRay derives Service names from it; longer names are rejected.


@rule("api-version", "apiVersion is ray.io/v1 (v1alpha1 is deprecated, removed in KubeRay 1.9)")
def _api_version(ctx: Context):
    api = ctx.raw.get("apiVersion")
    if api == "ray.io/v1alpha1":
        yield "apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1"
    elif api != API_VERSION:
        yield f"apiVersion is {api!r}: write apiVersion: {API_VERSION}"


@rule("kind", "kind is RayService")
def _kind(ctx: Context):
    if ctx.raw.get("kind") != "RayService":
        yield f"kind is {ctx.raw.get('kind')!r}: write kind: RayService"


@rule("name", "metadata.name is a valid Kubernetes name")
def _name(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        yield "metadata.name is missing: give the RayService a name, e.g. name: ray-serve-app"
    elif len(name) <= MAX_NAME_LENGTH and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name):
        yield (
            f"metadata.name {name!r} is not a valid Kubernetes name: use lower-case letters, digits and '-', "
            "starting with a letter"
        )


@rule("name-length", f"metadata.name has at most {MAX_NAME_LENGTH} characters")
def _name_length(ctx: Context):
    name = (ctx.raw.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        yield (
            f"metadata.name {name!r} has {len(name)} characters; KubeRay allows at most "
            f"{MAX_NAME_LENGTH}: choose a shorter name"
        )


INITIALIZING_TIMEOUT = "ray.io/initializing-timeout"
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+")


@rule("initializing-timeout", f"the {INITIALIZING_TIMEOUT} annotation is a positive duration (5m, 1h) or seconds")
def _initializing_timeout(ctx: Context):
    value = ctx.annotations.get(INITIALIZING_TIMEOUT)
    if value in (None, ""):
        return
    text = str(value)
    if _GO_DURATION.fullmatch(text) or re.fullmatch(r"[+-]?[0-9]+", text):
        if not re.search(r"[1-9]", text) or text.startswith("-"):
            yield problem(
                f"metadata.annotations.{INITIALIZING_TIMEOUT}",
                f"is {text!r}, not above zero",
                f'{INITIALIZING_TIMEOUT}: "30m"',
                why="KubeRay v1.7.0 rejects the RayService",
            )
        return
    yield problem(
        f"metadata.annotations.{INITIALIZING_TIMEOUT}",
        f"is {text!r}, neither a Go duration nor a whole number of seconds",
        f'{INITIALIZING_TIMEOUT}: "30m" (or "1h", "600")',
        why="KubeRay v1.7.0 rejects the RayService",
    )
