"""One backend contract: every operation in helpers.backends.base.Backend exists on both backends with the
same parameters, so a lesson or grader written against one runs on the other."""

from __future__ import annotations

import inspect

import pytest

from helpers.backends.base import Backend
from helpers.backends.kind import KindBackend
from helpers.backends.kube import KubernetesBackend
from helpers.backends.local import LocalBackend

BACKENDS = [LocalBackend, KubernetesBackend, KindBackend]


def contract() -> dict[str, inspect.Signature | None]:
    members = {}
    for name, value in vars(Backend).items():
        if name.startswith("_"):
            continue
        if callable(value):
            members[name] = inspect.signature(value)
        elif isinstance(value, property):
            members[name] = None
    for name in Backend.__annotations__:
        members.setdefault(name, None)
    return members


def parameters(signature: inspect.Signature) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in signature.parameters.values()]


def test_the_contract_lists_what_lessons_and_scenarios_call():
    names = set(contract())
    assert {"up", "apply", "status", "wait_ready", "down", "kill_replica", "lose_worker", "kill_proxy"} <= names
    assert {"delete_head_pod", "upgrade_cluster", "on_kubernetes", "kubectl", "serve_url", "token"} <= names


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("name", sorted(contract()), ids=str)
def test_every_backend_implements_every_operation_with_the_same_parameters(backend, name):
    expected = contract()[name]
    if expected is None:  # an attribute or a property
        has = hasattr(backend, name) or name in getattr(backend, "__annotations__", {})
        instance_attr = name in ("name", "kubectl")
        assert has or instance_attr, f"{backend.__name__} has no {name}"
        return
    method = getattr(backend, name, None)
    assert callable(method), f"{backend.__name__} has no method {name}"
    assert parameters(inspect.signature(method)) == parameters(expected), (
        f"{backend.__name__}.{name}{inspect.signature(method)} differs from the contract {expected}"
    )


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
def test_every_backend_has_a_kubectl_builder_for_its_namespace(backend, tmp_path):
    from ..fakes import FakeCommands, FakeKube

    kwargs = {"state_dir": tmp_path, "namespace": "learner-4"}
    if backend is not LocalBackend:
        kwargs.update(commands=FakeCommands(), api=FakeKube())
    instance = backend(**kwargs)
    assert instance.kubectl.namespace == "learner-4"
    assert isinstance(instance.name, str)
