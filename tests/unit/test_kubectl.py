"""The kubectl commands the lessons show are the ones the kube backends run: one builder, no second list."""

from __future__ import annotations

import pytest

from helpers import config
from helpers.backends.kind import KindBackend
from helpers.backends.local import LocalBackend
from helpers.errors import BackendError
from helpers.kubectl import Kubectl, head_service, serve_service

from ..fakes import FakeCommands, FakeKube

NS = "rayservice-tutorial"


def test_commands_a_learner_types():
    k = Kubectl(NS)
    assert k.wait_ready("ray-serve-app", timeout=300).text == (
        "kubectl wait rayservice/ray-serve-app --for=condition=Ready --timeout=300s -n rayservice-tutorial"
    )
    assert k.apply("manifests/ray-service.yaml").text == (
        "kubectl apply --server-side -f manifests/ray-service.yaml -n rayservice-tutorial"
    )
    assert k.get_pods("ray.io/node-type=worker").text == (
        "kubectl get pods -l ray.io/node-type=worker -o wide -n rayservice-tutorial"
    )
    assert k.port_forward(serve_service("ray-serve-app"), 8000, 8000).text == (
        "kubectl port-forward --address 127.0.0.1 svc/ray-serve-app-serve-svc 8000:8000 -n rayservice-tutorial"
    )
    assert head_service("ray-serve-app") == "ray-serve-app-head-svc"
    assert k.exec("ray-serve-app-abcde-head-x1", "kill", "-9", "321").text == (
        "kubectl exec -n rayservice-tutorial ray-serve-app-abcde-head-x1 -- kill -9 321"
    )
    assert k.events("ray-serve-app").text == "kubectl events --for rayservice/ray-serve-app -n rayservice-tutorial"
    assert k.delete_rayservice("ray-serve-app").text == "kubectl delete rayservice/ray-serve-app -n rayservice-tutorial"
    # A context goes first, where kubectl documents its global flags.
    assert Kubectl(NS, "kind-x").get_rayclusters().args[:3] == ("kubectl", "--context", "kind-x")


def test_every_command_says_what_the_local_backend_does_instead():
    k = Kubectl(NS)
    built = [
        k.apply("f.yaml"),
        k.diff("f.yaml"),
        k.get_rayservice("x"),
        k.describe_rayservice("x"),
        k.wait_ready("x"),
        k.get_rayclusters(),
        k.get_pods(),
        k.get_ray_pods(),
        k.get_services(),
        k.raycluster_events(),
        k.wait_app_running("x", "hello"),
        k.wait_upgrade_done("x"),
        k.update_state("x", ["hello"]),
        k.get_created_for("x"),
        k.port_forward("x-serve-svc", 1, 2),
        k.delete_pod("p"),
        k.logs("p"),
        k.logs_by_label("ray.io/node-type=head"),
        k.events("x"),
        k.exec("p", "ls"),
        k.delete_rayservice("x"),
    ]
    for command in built:
        # The namespace ends kubectl's own arguments: last, or just before `--` (after it, the command's).
        own = command.args[: command.args.index("--")] if "--" in command.args else command.args
        assert command.args[0] == "kubectl" and ("-n", NS) == (own[own.index("-n")], own[own.index("-n") + 1])
        assert own[-2:] == ("-n", NS) or own[2:4] == ("-n", NS), command.text
        assert len(command.local) > 20 and "\n" not in command.local, command.text


def test_the_kind_backend_runs_the_very_command_it_shows(tmp_path, capsys):
    commands = FakeCommands(responses={("kubectl",): (0, "NAME   READY\nray-serve-app   True", "")})
    backend = KindBackend(state_dir=tmp_path, commands=commands, kube=FakeKube())
    command = backend.kubectl.wait_ready("ray-serve-app", timeout=300)
    output = backend.on_kubernetes(command)
    assert commands.calls == [list(command.args)]
    assert "--context" in command.args and command.args[command.args.index("--context") + 1] == "kind-" + (
        config.KIND_CLUSTER
    )
    shown = capsys.readouterr().out
    assert shown.startswith(f"$ {command.text}\n") and output in shown  # the real output, nothing invented
    with pytest.raises(BackendError, match="runs until stopped"):
        backend.on_kubernetes(backend.kubectl.port_forward("x", 1, 2))


def test_the_local_backend_shows_the_command_and_runs_nothing(tmp_path, capsys):
    backend = LocalBackend(state_dir=tmp_path, namespace="learner-7")
    command = backend.kubectl.get_pods()
    assert backend.on_kubernetes(command) is None
    shown = capsys.readouterr().out.splitlines()
    assert shown == [f"$ {command.text}", f"(local backend, no Kubernetes here: {command.local}.)"]
    assert "-n learner-7" in shown[0]
