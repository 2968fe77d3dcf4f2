"""Lesson 08's faults and the signs that name them (helpers/debugging.py), without a cluster."""

from __future__ import annotations

import pytest

from helpers import debugging, load_manifest

BASE = load_manifest("manifests/ray-service.yaml")


def hello(manifest):
    return next(a for a in manifest.applications if a["name"] == "hello")


def pod_specs(manifest):
    cluster = manifest.raw["spec"]["rayClusterConfig"]
    return [g["template"]["spec"] for g in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]]


def test_the_serve_faults_change_only_serves_config():
    route = debugging.broken(BASE, "route")
    assert hello(route)["route_prefix"] == "/hi"
    assert hello(debugging.broken(BASE, "missing_file"))["import_path"] == "greeter_app:app"
    assert hello(debugging.broken(BASE, "attribute"))["import_path"] == "hello_app:ap"
    options = hello(debugging.broken(BASE, "gpu"))["deployments"][0]["ray_actor_options"]
    assert options == {"num_cpus": 0.2, "num_gpus": 1}
    for name in debugging.SERVE_FAULTS:
        assert debugging.broken(BASE, name).cluster_config == BASE.cluster_config, name


def test_the_pod_faults_reach_every_ray_container():
    copy = debugging.broken_copy(BASE)
    image = debugging.broken(copy, "image")
    assert {p["containers"][0]["image"] for p in pod_specs(image)} == {debugging.UNREACHABLE_IMAGE}
    configmap = debugging.broken(copy, "configmap")
    assert {p["volumes"][0]["configMap"]["name"] for p in pod_specs(configmap)} == {debugging.MISSPELT_CONFIGMAP}
    key = debugging.broken(copy, "secret_key")
    for spec in pod_specs(key):
        ref = spec["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": debugging.API_KEY_SECRET, "key": "api_key"} != {"key": debugging.API_KEY_KEY}
    for name in debugging.POD_FAULTS:
        assert debugging.broken(copy, name).serve_config == BASE.serve_config, name


def test_the_copy_is_another_rayservice_whose_pods_carry_the_label():
    copy = debugging.broken_copy(BASE)
    assert copy.name == debugging.COPY_NAME != BASE.name
    cluster = copy.raw["spec"]["rayClusterConfig"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        assert group["template"]["metadata"]["labels"] == dict([debugging.COPY_LABEL])
    assert BASE.raw["metadata"]["name"] == "ray-serve-app"  # the lesson's manifest is not changed


def test_an_unknown_fault_names_the_lessons():
    with pytest.raises(ValueError, match="route, missing_file, attribute, gpu, configmap, image, secret_key"):
        debugging.broken(BASE, "typo")


def test_seed_applies_only_the_copy():
    with pytest.raises(ValueError, match="broken_copy"):
        debugging.seed(object(), BASE)


def test_last_line_names_the_error():
    traceback = "Deploying app 'hello' failed with exception:\nTraceback:\n  File x\nModuleNotFoundError: No module"
    assert debugging.last_line(traceback) == "ModuleNotFoundError: No module"
    waiting = "Deployment 'Hello' has 1 replicas that have taken more than 30s to be scheduled. This may be due to x."
    assert (
        debugging.last_line(waiting)
        == "Deployment 'Hello' has 1 replicas that have taken more than 30s to be scheduled."
    )
    assert debugging.last_line("") == ""


def seen(client="HTTP 200", app="hello RUNNING", app_message="", deployments=(), routes=None):
    return debugging.Look("/hello", client, "Ready=True (NonZeroServeEndpoints)", app, app_message,
                          list(deployments), routes if routes is not None else {"/hello": "hello"})  # fmt: skip


def test_the_serve_signs_point_to_their_cause():
    assert debugging.diagnose_serve(seen()) is None  # healthy
    assert debugging.diagnose_serve(seen(client="HTTP 404", routes={"/hi": "hello"})) == "route"
    # A 404 for a path that is routed is not the route's fault (an app answering 404 itself).
    assert debugging.diagnose_serve(seen(client="HTTP 404")) is None
    failed = seen(app="hello DEPLOY_FAILED", app_message="ModuleNotFoundError: No module named 'greeter_app'")
    assert debugging.diagnose_serve(failed) == "import"
    typo = seen(app="hello DEPLOY_FAILED", app_message="AttributeError: module 'hello_app' has no attribute 'x'")
    assert debugging.diagnose_serve(typo) == "import"
    message = "Deployment 'Hello' in application 'hello' has 1 replicas that have taken more than 30s to be scheduled."
    waiting = seen(app="hello DEPLOYING", deployments=[("Hello", "UPDATING (RUNNING 1, STARTING 1)", message)])
    assert debugging.diagnose_serve(waiting) == "resources"
    assert set(debugging.CAUSES) >= {"route", "import", "resources", "volume", "image", "secret"}


def test_the_look_table_lines_up_each_place():
    table = seen(client="HTTP 404", routes={"/hi": "hello"}).table().splitlines()
    assert table[0].split() == ["client:", "GET", "/hello", "HTTP", "404"]
    assert table[-1].endswith("/hi -> hello")
    assert len({line.index(said) for line, said in zip(table, ["HTTP", "Ready", "hello"])}) == 1


def waits(*reasons, message=""):
    return [debugging.Waiting("head", "ray-head", reason, message) for reason in reasons]


def test_the_pod_signs_point_to_their_cause():
    assert debugging.diagnose_pods(waits("ImagePullBackOff"), []) == "image"
    assert debugging.diagnose_pods(waits("ErrImagePull"), []) == "image"
    secret = waits("CreateContainerConfigError", message="couldn't find key api_key in Secret ns/hello-api-key")
    assert debugging.diagnose_pods(secret, []) == "secret"
    mount = [("FailedMount", 'MountVolume.SetUp failed for volume "app-code" : configmap "x" not found')]
    assert debugging.diagnose_pods(waits("ContainerCreating"), mount) == "volume"
    assert debugging.diagnose_pods(waits("ContainerCreating"), []) is None  # still starting: no sign yet
    assert debugging.diagnose_pods([], []) is None


class Kube:
    """The two reads waiting() and warnings() make, in the client's to_dict() shape."""

    def __init__(self, pods, events):
        self.pods, self.events = pods, events

    def list_pods(self, namespace, selector):
        assert selector == debugging.COPY_SELECTOR
        return self.pods

    def list_events(self, namespace):
        return self.events


class Backend:
    namespace = "rayservice-tutorial"

    def __init__(self, kube):
        self.kube = kube


def pod(name, node_type, init=None, main=None):
    def statuses(states):
        return [{"name": n, "state": {"waiting": {"reason": r, "message": m}}} for n, r, m in states or []]

    return {
        "metadata": {"name": name, "labels": {"ray.io/node-type": node_type}},
        "status": {"init_container_statuses": statuses(init), "container_statuses": statuses(main)},
    }


def event(name, reason, message, when, type_="Warning"):
    return {"type": type_, "reason": reason, "message": message, "involved_object": {"name": name},
            "last_timestamp": when}  # fmt: skip


def test_waiting_and_warnings_read_the_copys_pods_only():
    backend = Backend(
        Kube(
            [
                pod("copy-head", "head", main=[("ray-head", "CreateContainerConfigError", "couldn't find key")]),
                pod(
                    "copy-worker",
                    "worker",
                    init=[("wait-gcs-ready", "PodInitializing", "")],
                    main=[("ray-worker", "PodInitializing", "")],
                ),  # fmt: skip
            ],
            [
                event("copy-head", "Failed", "Error: couldn't find key", "2026-12-07T23:39:23Z"),
                event("copy-head", "Failed", "Error: couldn't find key", "2026-12-07T23:39:20Z"),  # repeated: once
                event("copy-head", "Pulled", "already present", "2026-12-07T23:39:21Z", type_="Normal"),
                event("ray-serve-app-abcde-head-x", "Failed", "another pod's", "2026-12-07T23:39:24Z"),
            ],
        )
    )
    assert [(w.node_type, w.container, w.reason) for w in debugging.waiting(backend)] == [
        ("head", "ray-head", "CreateContainerConfigError"),
        ("worker", "ray-worker", "PodInitializing"),
        ("worker", "wait-gcs-ready", "PodInitializing"),
    ]
    assert debugging.warnings(backend) == [("Failed", "Error: couldn't find key")]
    table = debugging.signs_table(backend).splitlines()
    assert table[0] == "head    ray-head        CreateContainerConfigError: couldn't find key"
    assert table[-1] == "event   Failed: Error: couldn't find key"


def test_each_fault_names_a_cause_of_the_list_and_the_verdict_says_it():
    for fault in [*debugging.SERVE_FAULTS.values(), *debugging.POD_FAULTS.values()]:
        assert fault.cause in debugging.CAUSES, fault.name
        assert debugging.verdict(fault.cause).endswith(debugging.CAUSES[fault.cause])
    assert {f.cause for f in [*debugging.SERVE_FAULTS.values(), *debugging.POD_FAULTS.values()]} == set(
        debugging.CAUSES
    )
    assert "no cause" in debugging.verdict(None)


def test_the_secret_fault_shows_as_plain_yaml_in_its_diff():
    from helpers import manifests

    copy = debugging.broken_copy(BASE)
    shown = manifests.diff(copy, debugging.broken(copy, "secret_key"))
    assert "&id" not in shown and "*id" not in shown  # one mapping per container, no YAML anchors
    assert shown.count("key: api_key") == 2


def test_on_the_local_backend_a_pod_faults_verdict_says_there_are_no_pods():
    assert "no pods" in debugging.no_pods() and "recorded" in debugging.no_pods()
