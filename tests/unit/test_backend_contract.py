"""One backend contract: every operation in helpers.backends.base.Backend exists on both backends with the
same parameters, so a lesson or grader written against one runs on the other."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from helpers.backends.base import Backend
from helpers.backends.faults import FAULTS, Fault
from helpers.backends.host import HostBackend
from helpers.backends.kind import KindBackend
from helpers.backends.kube import KubernetesBackend
from helpers.backends.local import LocalBackend

BACKENDS = [LocalBackend, KubernetesBackend, KindBackend, HostBackend]


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


def test_every_fault_of_the_contract_says_what_it_returns():
    """Each fault returns its own small dataclass on every backend (tests/integration/test_backends_alike.py makes
    each fault on both and checks it): the contract and every backend name it as the return type."""
    faults = {"kill_replica", "lose_worker", "kill_proxy", "delete_head_pod"}
    assert set(FAULTS) == faults and faults <= set(contract())
    for name, result in FAULTS.items():
        assert issubclass(result, Fault) and "pod" in {f.name for f in dataclasses.fields(result)}
        for backend in (Backend, *BACKENDS):
            assert inspect.signature(getattr(backend, name)).return_annotation == result.__name__, (backend, name)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
def test_every_backend_inherits_the_base_and_leaves_nothing_abstract(backend):
    assert issubclass(backend, Backend) and not inspect.isabstract(backend)
    assert Backend.running_replicas is backend.running_replicas  # shared, not written twice


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("name", sorted(contract()), ids=str)
def test_every_backend_implements_every_operation_with_the_same_parameters(backend, name):
    expected = contract()[name]
    if expected is None:  # an attribute or a property
        has = hasattr(backend, name) or name in getattr(backend, "__annotations__", {})
        instance_attr = name in (
            "name",
            "kubectl",
            "ports",
            "state_file",
        )  # set in __init__: checked on instances below
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
        kwargs.update(commands=FakeCommands(), kube=FakeKube())
    instance = backend(**kwargs)
    assert instance.kubectl.namespace == "learner-4"
    assert isinstance(instance.name, str)
    assert instance.ports.serve and instance.ports.dashboard and instance.ports.metrics


def test_the_contract_holds_every_backend_call_of_the_lessons_labs_and_helpers():
    """Read from the code itself: each `backend.<name>` in a lesson's or lab's code cells, or in the helpers that
    lessons and graders call, is an operation of the contract (so it exists on both backends, with the same
    parameters, by the test above)."""
    import json
    import re

    from helpers import config

    used: dict[str, str] = {}
    sources = [*config.NOTEBOOKS_DIR.glob("0*.ipynb"), *(config.PROJECT_ROOT / "labs").glob("lab0*.ipynb")]
    for path in sources:
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        used.update({name: path.name for name in re.findall(r"\bbackend\.(\w+)", text)})
    for module in ("scenarios", "checks", "board", "bench", "metrics", "traffic", "runner"):
        text = (config.PROJECT_ROOT / "helpers" / f"{module}.py").read_text()
        used.update({name: f"helpers/{module}.py" for name in re.findall(r"\bbackend\.(\w+)", text)})
    assert len(used) > 20
    missing = {name: where for name, where in used.items() if name not in contract()}
    assert not missing, f"called on a backend but not in helpers/backends/base.py's Backend: {missing}"


def test_the_local_backend_says_what_only_kubernetes_shows(tmp_path):
    from helpers.backends import KindOnly

    backend = LocalBackend(state_dir=tmp_path)
    for call in (backend.cluster_names, backend.install_monitoring):
        with pytest.raises(KindOnly, match="needs a real Kubernetes cluster"):
            call()
