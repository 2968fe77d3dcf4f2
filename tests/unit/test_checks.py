"""The lab graders reject wrong answers with the right hint (the parts that need no cluster).

Wrong answers that need a running cluster (not applied, a failing chaos round, a failing update) are
in tests/integration/test_lab_graders.py; the solutions pass in tests/notebooks/test_labs.py.
"""

import json
import shutil

import pytest
import yaml

from helpers import checks, lint


@pytest.fixture(autouse=True)
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_LABS_ANSWERS", str(tmp_path))
    return tmp_path


def solved(lab):
    """The lab's answer file as a learner who solved it has it: labs/solutions/labNN.yaml."""
    path = checks.answer_file(lab)
    shutil.copyfile(checks.LABS_DIR / "solutions" / f"{lab}.yaml", path)
    return path


def solved_lab01():
    return solved("lab01")


def edit(path, mutate):
    raw = yaml.safe_load(path.read_text())
    mutate(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def containers(raw, group):
    cluster = raw["spec"]["rayClusterConfig"]
    spec = cluster["headGroupSpec"] if group == "head" else cluster["workerGroupSpecs"][0]
    return spec["template"]["spec"]["containers"]


def test_lab01_start_file_fails_on_the_first_lint_error():
    checks.start("lab01")
    result = checks.lab01()
    assert not result.passed and result.hint.startswith("[api-version]") and "more after this one" in result.hint
    assert json.loads((checks.answers_dir() / "results.json").read_text())["lab01"]["passed"] is False


def test_lab01_start_keeps_the_learners_edits(capsys):
    path = checks.start("lab01")
    path.write_text("mine")
    assert checks.start("lab01").read_text() == "mine" and "kept" in capsys.readouterr().out
    assert checks.start("lab01", reset=True).read_text() != "mine"


def test_lab01_solution_passes():
    assert checks.lab01(solved_lab01()).passed


@pytest.mark.parametrize(
    "mutate, hint",
    [
        # Keys moved out of serveConfigV2, but written inline into the pod env.
        (
            lambda r: containers(r, "head")[0]["env"].__setitem__(0, {"name": "AWS_ACCESS_KEY_ID", "value": "x"}),
            "[inline-credentials]",
        ),
        # The Secret is referenced from the head only: the worker's replicas would have no keys.
        (
            lambda r: containers(r, "worker")[0].pop("env"),
            "worker group workers container has no env AWS_ACCESS_KEY_ID",
        ),
        # Back to an object-shaped serveConfigV2.
        (
            lambda r: r["spec"].__setitem__("serveConfigV2", yaml.safe_load(r["spec"]["serveConfigV2"])),
            "[serve-config-string]",
        ),
        # The serve port unnamed again: a warning, and the lab asks for none.
        (lambda r: containers(r, "head")[0]["ports"][0].pop("name"), "the linter still warns: [serve-port]"),
        # The app renamed.
        (
            lambda r: r["spec"].__setitem__("serveConfigV2", r["spec"]["serveConfigV2"].replace("/hello", "/hi")),
            "keep the article's application",
        ),
        (
            lambda r: r["spec"].__setitem__(
                "serveConfigV2", r["spec"]["serveConfigV2"].replace("num_replicas: 2", "num_replicas: 1")
            ),
            "with num_replicas 2 and ray_actor_options num_cpus 0.2; yours lists Hello: num_replicas 1",
        ),
    ],
)
def test_lab01_wrong_answers_get_their_hint(mutate, hint):
    path = solved_lab01()
    edit(path, mutate)
    result = checks.lab01(path)
    assert not result.passed and hint in result.hint, result.hint


def cluster(raw):
    return raw["spec"]["rayClusterConfig"]


def serve_text(raw, old, new):
    raw["spec"]["serveConfigV2"] = raw["spec"]["serveConfigV2"].replace(old, new)


@pytest.mark.parametrize(
    "mutate, hint",
    [
        # Ways to make the linter happy while running something else than the article's service (issue 23 §4).
        # The worker group removed, emptied, suspended, renamed or grown: not the article's cluster.
        (lambda r: cluster(r).pop("workerGroupSpecs"), "yours has no worker group"),
        (lambda r: cluster(r).__setitem__("workerGroupSpecs", []), "yours has no worker group"),
        (lambda r: cluster(r)["workerGroupSpecs"][0].__setitem__("replicas", 0), "makes 0 worker node(s)"),
        (lambda r: cluster(r)["workerGroupSpecs"][0].__setitem__("suspend", True), "makes 0 worker node(s)"),
        (lambda r: cluster(r)["workerGroupSpecs"][0].__setitem__("replicas", 2), "makes 2 worker node(s)"),
        (lambda r: cluster(r)["workerGroupSpecs"][0].__setitem__("groupName", "w2"), "worker groups w2"),
        # Another import_path: other code, or none, behind /hello.
        (lambda r: serve_text(r, "hello_app:app", "predict_app:build"), "import_path is 'predict_app:build'"),
        # The deployment renamed (Serve would refuse a name the code does not have), other CPUs per replica.
        (lambda r: serve_text(r, "name: Hello", "name: Hi"), "yours lists Hi: num_replicas 2, num_cpus 0.2"),
        (lambda r: serve_text(r, "num_cpus: 0.2", "num_cpus: 0"), "yours lists Hello: num_replicas 2, num_cpus 0"),
        (lambda r: serve_text(r, "num_cpus: 0.2", "num_cpus: 0.6"), "num_cpus 0.6"),
        # Ray's CPUs on a node set to 0: that node never runs a replica (the linter accepts it).
        (
            lambda r: cluster(r)["headGroupSpec"]["rayStartParams"].__setitem__("num-cpus", "0"),
            "the head sets rayStartParams num-cpus",
        ),
        (
            lambda r: cluster(r)["workerGroupSpecs"][0]["rayStartParams"].__setitem__("num-cpus", "0"),
            "the worker group workers sets rayStartParams num-cpus",
        ),
        # A second application next to hello, and the RayService renamed.
        (
            lambda r: serve_text(
                r, "applications:\n", "applications:\n  - {name: x, route_prefix: /x, import_path: hello_app:app}\n"
            ),
            "yours runs x, hello",
        ),
        (lambda r: r["metadata"].__setitem__("name", "my-app"), "keep the article's name, ray-serve-app"),
        # Settings the article does not have, on the app, the deployment or the cluster.
        (
            lambda r: serve_text(r, "num_replicas: 2", "num_replicas: 2\n        user_config: {greeting: Yo}"),
            "Hello has user_config",
        ),
        (
            lambda r: serve_text(r, "import_path: hello_app:app", "import_path: hello_app:app\n    args: {x: 1}"),
            "hello has args",
        ),
        (lambda r: cluster(r).__setitem__("suspend", True), "rayClusterConfig sets suspend: true"),
        (
            lambda r: cluster(r).__setitem__("enableInTreeAutoscaling", True),
            "rayClusterConfig sets enableInTreeAutoscaling",
        ),
        # A Ray container that does not run Ray, or not the article's image; the serve port name on another port.
        (lambda r: containers(r, "worker")[0].__setitem__("command", ["sleep", "infinity"]), "container sets command"),
        (lambda r: containers(r, "head")[0].__setitem__("args", ["sleep", "infinity"]), "the head container sets args"),
        (lambda r: containers(r, "worker")[0].__setitem__("image", "busybox:1.36"), "runs image 'busybox:1.36'"),
        (lambda r: containers(r, "head")[0]["ports"][0].__setitem__("containerPort", 8001), "port named serve is 8001"),
    ],
)
def test_lab01_linted_answers_that_do_not_run_the_articles_service(mutate, hint):
    path = solved_lab01()
    edit(path, mutate)
    assert not lint.lint_text(path.read_text())  # the linter finds nothing wrong: only the grader can
    result = checks.lab01(path)
    assert not result.passed and hint in result.hint, result.hint


def swap_keys(raw):
    for group in ("head", "worker"):
        for env in containers(raw, group)[0]["env"]:
            ref = env["valueFrom"]["secretKeyRef"]
            ref["key"] = "AWS_SECRET_ACCESS_KEY" if ref["key"] == "AWS_ACCESS_KEY_ID" else "AWS_ACCESS_KEY_ID"


def optional_refs(raw):
    for group in ("head", "worker"):
        for env in containers(raw, group)[0]["env"]:
            env["valueFrom"]["secretKeyRef"]["optional"] = True


@pytest.mark.parametrize(
    "mutate, hint",
    [
        # The same Secret and keys everywhere, but each variable reads the other's key: the wrong values.
        (swap_keys, "env AWS_ACCESS_KEY_ID in the head container reads key 'AWS_SECRET_ACCESS_KEY'"),
        # optional: true: the pod starts without the keys when the Secret is missing.
        (optional_refs, "reads its Secret with optional: true"),
    ],
)
def test_lab01_secret_refs_that_lint_clean_but_do_not_hand_over_the_keys(mutate, hint):
    path = solved_lab01()
    edit(path, mutate)
    assert not lint.lint_text(path.read_text())
    result = checks.lab01(path)
    assert not result.passed and hint in result.hint, result.hint


def test_lab01_the_articles_values_are_the_article_files():
    """helpers.lab01_article writes the article's service out; the article's file must say the same."""
    from helpers import lab01_article as article

    raw = yaml.safe_load((checks.LABS_DIR / "broken" / "article-ray-service.yaml").read_text())
    app = raw["spec"]["serveConfigV2"]["applications"]
    assert raw["metadata"]["name"] == article.NAME and len(app) == 1
    assert {"name": app[0]["name"], "route_prefix": app[0]["routePrefix"], "import_path": app[0]["importPath"]} == (
        article.APP
    )
    (deployment,) = app[0]["deployments"]
    assert deployment["name"] == article.DEPLOYMENT["name"]
    assert deployment["numReplicas"] == article.DEPLOYMENT["num_replicas"]
    assert deployment["rayActorOptions"]["numCpus"] == article.DEPLOYMENT["num_cpus"]
    (group,) = raw["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert (group["groupName"], group["replicas"]) == (article.WORKER_GROUP, article.WORKER_NODES)
    assert group["rayStartParams"] == raw["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"] == {}


def secret_ref(raw, group, secret, key_prefix=""):
    for env in containers(raw, group)[0]["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        ref["name"], ref["key"] = secret, key_prefix + ref["key"]


def test_lab01_one_secret_in_every_container():
    """Secret aws-credentials in the head and my-aws in the workers: two Secrets, the workers' may not exist."""
    path = solved_lab01()
    edit(path, lambda r: secret_ref(r, "worker", "my-aws"))
    result = checks.lab01(path)
    assert not result.passed, result
    assert "Secret 'aws-credentials'" in result.hint and "Secret 'my-aws'" in result.hint
    assert "head container" in result.hint and "worker group workers container" in result.hint


def test_lab01_same_secret_but_other_keys_in_the_workers():
    path = solved_lab01()
    edit(path, lambda r: secret_ref(r, "worker", "aws-credentials", key_prefix="WORKER_"))
    result = checks.lab01(path)
    assert not result.passed and "key 'WORKER_AWS_ACCESS_KEY_ID'" in result.hint, result.hint


def test_lab01_the_two_keys_from_two_secrets():
    path = solved_lab01()

    def split(raw):
        for group in ("head", "worker"):
            containers(raw, group)[0]["env"][1]["valueFrom"]["secretKeyRef"]["name"] = "aws-secret-key"

    edit(path, split)
    result = checks.lab01(path)
    assert not result.passed and "2 Secrets (aws-credentials, aws-secret-key)" in result.hint, result.hint


def test_lab01_placeholder_values_left_in_a_comment():
    path = solved_lab01()
    path.write_text(path.read_text() + "# AWS_SECRET_ACCESS_KEY: replace-me\n")
    assert "placeholder" in checks.lab01(path).hint


def test_lab01_missing_file_says_how_to_create_it():
    result = checks.lab01(checks.answers_dir() / "nope.yaml")
    assert "run the lab's first cell" in result.hint


def test_lab02_unchanged_start_file_asks_for_a_third_app():
    checks.start("lab02")
    result = checks.lab02(backend=None)  # never reaches the cluster
    assert not result.passed and "2 application(s)" in result.hint and "route_prefix" in result.hint


def test_lab02_third_app_on_a_used_prefix_is_a_lint_hint():
    path = checks.start("lab02")
    text = path.read_text().replace(
        "  # The Ray cluster",
        "      - {name: hola, route_prefix: /hello, import_path: hello_app:app,\n"
        "         deployments: [{name: Hello, ray_actor_options: {num_cpus: 0.2}}]}\n  # The Ray cluster",
    )
    path.write_text(text)
    result = checks.lab02(backend=None)
    assert result.hint.startswith("[duplicate-route]") and "'/hello'" in result.hint


def test_lab02_start_is_the_multi_manifest_without_predict_b():
    from helpers.manifests import load_manifest

    start = load_manifest(checks.two_app_manifest_text())
    multi = load_manifest("manifests/ray-service-multi.yaml")
    assert start.routes == {"/hello": "hello", "/predict-a": "predict-a"}
    assert start.cluster_config == multi.cluster_config


def lab03_file(text):
    path = checks.answer_file("lab03")
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("num_replicas: 0\nmax_replicas_per_node: null\nclient_retries: true\n", "num_replicas: 0"),
        ("num_replicas: 2\nmax_replicas_per_node: 0\nclient_retries: true\n", "max_replicas_per_node: 0"),
        ("num_replicas: 2\nmax_replicas_per_node: null\nclient_retries: yes please\n", "client_retries"),
        ("num_replicas: two\nclient_retries: true\n", "num_replicas: 'two'"),
        ("num_replica: 2\n", "unknown key(s) num_replica"),
        ("num_replicas: [2\n", "not valid YAML"),
    ],
)
def test_lab03_answer_file_is_checked_before_anything_runs(text, message):
    result = checks.lab03(backend=None, path=lab03_file(text))  # never reaches the cluster
    assert not result.passed and message in result.hint, result.hint


def test_lab03_start_file_and_solution_are_valid_choices():
    choice, problem = checks.lab03_choices(checks.start("lab03"))
    assert choice == {"num_replicas": 1, "max_replicas_per_node": None, "client_retries": False}, problem
    choice, problem = checks.lab03_choices(solved("lab03"))
    assert choice == {"num_replicas": 4, "max_replicas_per_node": 2, "client_retries": True}, problem


def test_lab03_impossible_placement_is_caught_before_anything_is_deployed():
    lab03_file("num_replicas: 3\nmax_replicas_per_node: 1\nclient_retries: true\n")
    result = checks.lab03(backend=None)
    assert not result.passed and "need 3 nodes; the cluster has 2" in result.hint


@pytest.mark.parametrize(
    "choices, words",
    [
        # Lesson 04's answer: a killed replica leaves 1.
        ("2, 1, true", "with 2 replica(s), 1 serve while Serve replaces a killed one; the budget is 2"),
        # The known unsafe placement: no cap. Serve may spread 2 + 2 (a lucky round passes), or put all 4 on the
        # worker node, whose 1 CPU holds 5 replicas of 0.2 CPU.
        ("4, null, true", "Serve may put 4 of your 4 replicas on the worker node (its 1 CPU hold 5 replicas"),
        ("6, null, true", "Serve may put 5 of your 6 replicas on the worker node"),
        # A cap that still lets one node hold too many.
        ("3, 2, true", "the worker node may hold 2 of your 3 replicas: losing it leaves 1 serving in the worst case"),
        ("4, 3, true", "may hold 3 of your 4 replicas: losing it leaves 1"),
        # The known lucky run: a safe placement but no retries passes when no request is in flight at the kill.
        ("4, 2, false", "client_retries is false"),
        ("6, 3, false", "set client_retries: true"),
    ],
)
def test_lab03_worst_case_is_refused_before_anything_is_deployed(choices, words):
    n, cap, retries = (c.strip() for c in choices.split(","))
    lab03_file(f"num_replicas: {n}\nmax_replicas_per_node: {cap}\nclient_retries: {retries}\n")
    result = checks.lab03(backend=None)  # never reaches the cluster
    assert not result.passed and words in result.hint, result.hint


@pytest.mark.parametrize("n, cap, most", [(4, 2, 2), (5, 3, 3), (6, 3, 3), (6, 4, 4)])
def test_lab03_designs_safe_in_the_worst_case_go_on_to_the_round(n, cap, most):
    from helpers import chaos_lab

    manifest = checks.lab03_manifest(n, cap)
    assert chaos_lab.most_on_lost_node(manifest) == (most, 1.0, 5)
    assert chaos_lab.design_hint(manifest, retries=True) == ""


def serving(crash, loss):
    return {"replica killed": crash, "worker node lost": loss}


@pytest.mark.parametrize(
    "replicas, left, placement, retries, failed, words",
    [
        # Lesson 04's answer: 2 replicas, one per node, retries. A crash leaves 1: under the budget of 2.
        (2, serving(1, 1), {"head": 1, "worker": 1}, True, None, "1 replica(s) served; the budget is 2"),
        (1, serving(0, 1), {"head": 1}, False, "replica killed", "How many must run"),
        # 3 replicas: a crash leaves 2, but the worker held 2 of them.
        (3, serving(2, 1), {"head": 1, "worker": 2}, True, None, "max_replicas_per_node"),
        # 4 replicas placed 3 + 1 by Serve (no cap): losing the fuller node leaves 1.
        (4, serving(3, 1), {"head": 1, "worker": 3}, True, None, "1 on node head, 3 on node worker"),
        # Enough replicas, but requests in flight failed without retries.
        (4, serving(3, 2), {"head": 2, "worker": 2}, False, "worker node lost", "Who can send those again?"),
    ],
)
def test_chaos_hints_name_what_is_missing(replicas, left, placement, retries, failed, words):
    hint = checks.chaos_hint(replicas, left, placement, retries, failed)
    assert words in hint, hint


def test_chaos_hint_empty_when_the_budget_is_met():
    assert checks.chaos_hint(4, serving(3, 2), {"head": 2, "worker": 2}, True, None) == ""


SOLVED_LAB04 = (checks.LABS_DIR / "solutions" / "lab04.yaml").read_text()


@pytest.mark.parametrize(
    "text, hint",
    [
        # Nothing shipped, and lesson 05's kind of change (a greeting) instead of the ticket.
        (
            checks.BASELINE.read_text(),
            "your file is the same as the running version: nothing from the ticket ships",
        ),
        (
            SOLVED_LAB04.replace("greeting: Hello", "greeting: Bonjour"),
            "you changed user_config, which the ticket does not ask for",
        ),
        # The old lab's one-line answer: only item A. Item B goes out in place too.
        (
            checks.BASELINE.read_text().replace("num_replicas: 2", "num_replicas: 4"),
            "ticket item B (max_ongoing_requests: 10) is not in your update",
        ),
        (SOLVED_LAB04.replace("num_replicas: 4", "num_replicas: 2"), "ticket item A (num_replicas: 4) is not in"),
        # Everything shipped: C starts new replicas, D builds a new RayCluster.
        (
            SOLVED_LAB04.replace(
                "max_ongoing_requests: 10", "max_ongoing_requests: 10\n            max_replicas_per_node: 2"
            ),
            "you ship ticket item C (max_replicas_per_node) now. Serve cannot apply max_replicas_per_node",
        ),
        (
            SOLVED_LAB04.replace('limits: {cpu: "1", memory: 2Gi}', 'limits: {cpu: "2", memory: 2Gi}'),
            "you changed rayClusterConfig, where ticket item D would go",
        ),
        (SOLVED_LAB04.replace("replicas: 1\n", "replicas: 2\n", 1), "you changed a worker group's size"),
        # The right items with the wrong values, or with changes the ticket does not ask for.
        (SOLVED_LAB04.replace("num_replicas: 4", "num_replicas: 3"), "your file has num_replicas: 3"),
        (SOLVED_LAB04.replace("max_ongoing_requests: 10", "max_ongoing_requests: 8"), "max_ongoing_requests: 8."),
        (SOLVED_LAB04.replace("APP_VERSION: v1", "APP_VERSION: v2"), "you changed runtime_env"),
        (SOLVED_LAB04.replace("num_cpus: 0.2", "num_cpus: 0.25"), "you changed ray_actor_options"),
        (SOLVED_LAB04.replace("route_prefix: /hello", "route_prefix: /hi"), "keep the route"),
        # Another RayService name: on Kubernetes a second RayService with a cluster of its own.
        (SOLVED_LAB04.replace("name: ray-serve-app", "name: ray-serve-app-2"), "you changed metadata.name"),
        (SOLVED_LAB04.replace("serveConfigV2: |", "serveConfigV2:"), "[serve-config-string]"),
    ],
)
def test_lab04_wrong_decisions_before_any_traffic(text, hint):
    path = checks.start("lab04")
    path.write_text(text)
    result = checks.lab04(backend=None)  # never reaches the cluster
    assert not result.passed and hint in result.hint, result.hint


def test_lab04_solution_ships_a_and_b_only():
    from helpers import lab04_ticket
    from helpers.manifests import load_manifest

    solution = load_manifest(solved("lab04"))
    assert lab04_ticket.decision_hint(load_manifest(checks.BASELINE), solution) == ""
    assert lab04_ticket.SHIP_NOW == {"num_replicas": 4, "max_ongoing_requests": 10}


def test_lab04_in_place_and_restart_options_are_serves_own():
    """IN_PLACE and RESTART are Ray Serve's classification of the installed Ray: the options whose update_type is
    not HeavyWeight, and the ones DeploymentVersion.requires_actor_restart compares."""
    import inspect

    from ray.serve._private.config import DeploymentConfig
    from ray.serve._private.utils import DeploymentOptionUpdateType
    from ray.serve._private.version import DeploymentVersion

    from helpers import lab04_ticket

    fields = DeploymentConfig.model_fields
    for option in lab04_ticket.IN_PLACE:
        extra = fields[option].json_schema_extra or {}
        update = extra.get("update_type") if isinstance(extra, dict) else None
        update = update or getattr(fields[option], "update_type", None)
        assert update in (
            DeploymentOptionUpdateType.LightWeight,
            DeploymentOptionUpdateType.NeedsReconfigure,
            DeploymentOptionUpdateType.NeedsActorReconfigure,
        ), (option, update)
    restart = inspect.getsource(DeploymentVersion.requires_actor_restart)
    for option in ("ray_actor_options", "placement_group", "max_replicas_per_node"):
        assert option in restart, option
    assert all(
        o.startswith(("ray_actor_options", "placement_group", "max_replicas_per_node")) for o in lab04_ticket.RESTART
    )


def test_lab04_names_the_fields_that_restart_replicas():
    from helpers.manifests import load_manifest, with_app_env, with_deployment_options

    base = load_manifest(checks.BASELINE)
    scaled = with_deployment_options(base, "hello", "Hello", num_replicas=4)
    assert checks.changed_fields(base.serve_config, scaled.serve_config) == []
    both = with_deployment_options(
        with_app_env(scaled, "hello", {"APP_VERSION": "v2"}),
        "hello",
        "Hello",
        **{"ray_actor_options": {"num_cpus": 0.1}},
    )
    assert checks.changed_fields(base.serve_config, both.serve_config) == [
        "runtime_env",
        "deployment ray_actor_options",
    ]


def test_grade_unknown_lab():
    with pytest.raises(ValueError, match="choose one of lab01"):
        checks.grade("lab9")


@pytest.mark.parametrize("lab", ["lab01", "lab02", "lab04"])
def test_solutions_are_manifests_a_learner_would_write(lab):
    """labs/solutions/labNN.yaml: a RayService manifest the linter accepts, with comments, no Python."""
    from helpers.manifests import load_manifest

    text = (checks.LABS_DIR / "solutions" / f"{lab}.yaml").read_text()
    assert text.startswith(f"# Solution to lab {lab[3:]}") and "kind: RayService" in text
    load_manifest(solved(lab))


def test_lab02_solution_adds_one_app_at_a_new_prefix():
    from helpers.manifests import load_manifest

    routes = load_manifest(solved("lab02")).routes
    assert routes == {"/hello": "hello", "/predict-a": "predict-a", "/hola": "hola"}


def test_lab02_applied_but_not_running_quotes_serves_own_message():
    """An applied app that cannot start: the hint is Serve's reason, not "apply your file" (it was applied)."""
    from helpers import status as status_mod

    path = solved("lab02")
    message = (
        "Deployment 'Model' in application 'predict-c' has 1 replicas that have taken more than 30s to be scheduled. "
        'Resources required for each replica: {"CPU": 1.0}, total resources available: {"CPU": 0.4}.'
    )
    names = [a["name"] for a in checks.load_manifest(path).applications]
    details = {
        "applications": {
            name: {
                "status": "DEPLOYING" if name == names[-1] else "RUNNING",
                "deployments": {
                    "Model": {
                        "status": "UPDATING" if name == names[-1] else "HEALTHY",
                        "message": message if name == names[-1] else "",
                        "target_num_replicas": 1,
                        "replicas": [],
                    }
                },
            }
            for name in names
        }
    }

    class Cluster:  # stands in for a backend: the status shape both backends return
        def status(self):
            return status_mod.rayservice_status(details, "ray-serve-app", "local", activated=True)

    result = checks.lab02(Cluster(), path)
    assert not result.passed
    assert f"{names[-1]} is applied but not RUNNING" in result.hint
    assert "Resources required for each replica" in result.hint and "apply your file" not in result.hint


# -- lab 02 graded from the cluster's state: Serve's own config of each application is the learner's file --------


def serving_cluster(applications):
    """A backend whose Serve runs ``applications`` (serveConfigV2 application dicts), each RUNNING."""
    from helpers import status as status_mod

    details = {
        "applications": {
            a["name"]: {
                "status": "RUNNING",
                "deployed_app_config": a,
                "deployments": {
                    d["name"]: {"status": "HEALTHY", "message": "", "target_num_replicas": 1, "replicas": []}
                    for d in a.get("deployments") or []
                },
            }
            for a in applications
        }
    }

    class Cluster:  # stands in for a backend: the status shape both backends return, and Serve's details
        def status(self):
            return status_mod.rayservice_status(details, "ray-serve-app", "local", activated=True)

        def serve_details(self):
            return details

    return Cluster()


def apps_of(path_or_text):
    return checks.load_manifest(path_or_text).applications


def with_third_app(block):
    path = checks.start("lab02")
    path.write_text(path.read_text().replace("  # The Ray cluster", block + "  # The Ray cluster"))
    return path


PREDICT_B = (
    "      - name: predict-b\n        route_prefix: /predict-b\n        import_path: predict_app:build\n"
    "        args: {{model: {model}}}\n        deployments:\n"
    "          - {{name: Predictor, num_replicas: 1, ray_actor_options: {{num_cpus: 0.2}}}}\n"
)


@pytest.fixture
def no_requests(monkeypatch):
    """route_proof sends HTTP requests: these tests grade the cluster's state, so every route answers."""

    def proof(backend, manifest, n=10):
        return {
            route: {"app": app, "sent": n, "ok": n, "replicas": 1, "foreign": 0, "error": ""}
            for route, app in sorted(manifest.routes.items())
        }

    monkeypatch.setattr(checks, "route_proof", proof)


def test_lab02_file_never_applied_while_lesson_03s_predict_b_runs(no_requests):
    """The known way to pass without applying: lesson 03 left predict-b (model b) running at /predict-b; the
    learner's file has a predict-b of its own (model c) that was never applied. Every app is RUNNING and every
    route answers, but Serve's config of predict-b is not the learner's."""
    path = with_third_app(PREDICT_B.format(model="c"))
    cluster = serving_cluster(apps_of("manifests/ray-service-multi.yaml"))
    result = checks.lab02(cluster, path)
    assert not result.passed, result
    assert "Serve runs predict-b with a config other than your file's (args differ)" in result.hint
    assert "backend.apply(" in result.hint


def test_lab02_file_changed_after_it_was_applied(no_requests):
    """The solution applied, then the greeting of hola edited and never applied again."""
    path = solved("lab02")
    cluster = serving_cluster(apps_of(path))
    path.write_text(path.read_text().replace("greeting: Hola", "greeting: Hi"))
    result = checks.lab02(cluster, path)
    assert not result.passed and "Serve runs hola with a config other than your file's (deployments differ)" in (
        result.hint
    )


def test_lab02_cluster_runs_another_file_with_more_apps(no_requests):
    """Serve runs the learner's three apps and lesson 03's predict-b: an apply of the learner's file would have
    removed predict-b, so that file is not what the cluster runs."""
    path = solved("lab02")
    cluster = serving_cluster(apps_of(path) + apps_of("manifests/ray-service-multi.yaml")[2:])
    result = checks.lab02(cluster, path)
    assert not result.passed and "Serve also runs predict-b, which your file does not have" in result.hint


def test_lab02_passes_when_serve_runs_the_learners_file(no_requests):
    path = solved("lab02")
    result = checks.lab02(serving_cluster(apps_of(path)), path)
    assert result.passed, result
    assert "Serve's own config of each application is your file's" in str(result)


@pytest.mark.parametrize(
    "change, hint",
    [
        # predict-a replaced by two new apps: three apps and a new prefix, but not the starting two kept.
        (lambda t: t.replace("model: a", "model: z"), "predict-a is not as the starting file has it"),
        (lambda t: t.replace("greeting: Hello", "greeting: Yo"), "hello is not as the starting file has it"),
        # A cluster change: on kind a new RayCluster for an app that fits the running one (local refuses it).
        (
            lambda t: t.replace("groupName: workers\n        replicas: 1", "groupName: workers\n        replicas: 2"),
            "you changed rayClusterConfig: the task adds",
        ),
        (lambda t: t.replace("name: ray-serve-app", "name: my-app"), "you changed metadata.name"),
        (
            lambda t: t.replace(
                "  # The Ray cluster",
                PREDICT_B.format(model="b").replace("predict-b", "predict-c") + "  # The Ray cluster",
            ),
            "your manifest has 4 applications (hello, predict-a, hola, predict-c)",
        ),
    ],
)
def test_lab02_file_keeps_the_two_starting_apps_and_adds_one(change, hint):
    path = solved("lab02")
    path.write_text(change(path.read_text()))
    result = checks.lab02(backend=None, path=path)  # never reaches the cluster
    assert not result.passed and hint in result.hint, result.hint


def test_lab02_starts_from_its_two_applications():
    """The lab's first step applies this: lesson 03's predict-b goes, so only an apply can bring a third app."""
    assert checks.lab02_start().routes == {"/hello": "hello", "/predict-a": "predict-a"}


def test_lab04_serves_config_must_be_the_files_after_the_update():
    """After lab 04's update, Serve's own config of hello must carry the ticket's options (B: max_ongoing_requests);
    the check applied the file itself, so the hint does not tell the learner to apply it."""
    from helpers import lab02_served

    path = solved("lab04")
    running = apps_of(checks.BASELINE)  # Serve still runs the starting version: B never reached the replicas
    hint = lab02_served.served_differs(
        serving_cluster(running), checks.load_manifest(path), path, applied_by_check=True
    )
    assert "Serve runs hello with a config other than your file's (deployments differ)" in hint
    assert "run the check again" in hint and "backend.apply" not in hint
    assert lab02_served.served_differs(serving_cluster(apps_of(path)), checks.load_manifest(path), path) == ""
