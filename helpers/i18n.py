"""The helpers' messages in the learner's language: English (the default) or Korean (한국어).

The language is the lesson's ``TUTORIAL_LANG`` parameter (the Korean notebooks in ``notebooks/ko/`` and
``labs/ko/`` set ``TUTORIAL_LANG = "ko"`` in their parameters cell), else the ``TUTORIAL_LANG`` environment
variable (``make run TUTORIAL_LANG=ko``), else English. ``LANG`` is not read: every shell sets it (the locale).

The messages learners read most (lab results and hints, the linter's findings, preflight) are built in
English by the code that finds them; ``tr(message)`` renders one in the chosen language. ``CATALOG`` holds,
per stable id, the English template (the text the code writes, with ``{fields}``) and its Korean
translation. ``tr`` matches the English message against the templates, translates what each field holds
when that is a catalog message itself (a lab hint that quotes a lint finding), and fills the Korean
template. A message no template matches, or English as the language, is returned unchanged: English output
never goes through the catalog.

``use_english_folder()`` (called when ``helpers`` is imported) makes a Korean notebook's working directory
the English notebook's folder, so its code cells, identical to the English ones, find ``../manifests/``.
"""

from __future__ import annotations

import functools
import os
import re
import string
import sys
from pathlib import Path

ENV = "TUTORIAL_LANG"  # the environment variable, and the lessons' parameter of the same name
LANGUAGES = ("en", "ko")
DEFAULT = "en"
EDITION_FOLDER = "ko"  # notebooks/ko/, labs/ko/


def normalize(value: object) -> str:
    """'ko', 'KO', 'ko_KR', 'ko-KR' -> 'ko'; anything unknown or empty -> 'en'."""
    code = str(value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT


def _notebook_parameter() -> object:
    """The ``TUTORIAL_LANG`` variable of the running notebook, when the helpers run in an IPython kernel."""
    ipython = sys.modules.get("IPython")  # not imported: not in a kernel, nothing to look up
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return getattr(shell, "user_ns", {}).get(ENV) if shell is not None else None


def lang() -> str:
    """The language of the helpers' messages: the lesson's parameter, else $TUTORIAL_LANG, else English."""
    parameter = _notebook_parameter()
    return normalize(parameter if parameter else os.environ.get(ENV))


# -- the catalog ---------------------------------------------------------------------------------------------------
# id -> (English template as the code writes it, Korean). Fields are {name}; {{ and }} are literal braces. The
# English template must stay word for word what the code prints (tests/unit/test_i18n.py checks each against the
# source of its module, named by the id's first part): when the English changes, its Korean must follow.

CATALOG: dict[str, tuple[str, str]] = {
    # helpers/checks.py: the result lines
    "checks.passed": ("✅ {lab} passed: {title}", "✅ {lab} 통과: {title}"),
    "checks.not_yet": ("❌ {lab} not yet. Hint: {hint}", "❌ {lab} 아직 아닙니다. 힌트: {hint}"),
    "checks.title.lab01": ("Fix the article's manifest", "원문 매니페스트 고치기"),
    "checks.title.lab02": (
        "A third application at its own route prefix",
        "자기 route prefix를 가진 세 번째 애플리케이션",
    ),
    "checks.title.lab03": (
        "Two replicas serving through every fault of a chaos round",
        "카오스 라운드의 모든 장애 동안 replica 2개가 계속 서빙",
    ),
    "checks.title.lab04": (
        "Scale out under traffic without restarting a replica",
        "replica를 재시작하지 않고 트래픽 중에 확장하기",
    ),
    # helpers/checks.py: the learner's file
    "checks.file_kept": (
        "Your file: {path} (kept; start(..., reset=True) starts over)",
        "내 파일: {path} (기존 파일을 유지합니다. 처음부터 하려면 start(..., reset=True))",
    ),
    "checks.file_new": (
        "Your file: {path} (open it in JupyterLab's file browser and edit it)",
        "내 파일: {path} (JupyterLab 파일 브라우저에서 열어 수정하세요)",
    ),
    "checks.no_file": (
        "{path} does not exist yet: run the lab's first cell (start) to create it.",
        "{path} 파일이 아직 없습니다. 실습의 첫 셀(start)을 실행해 만드세요.",
    ),
    "checks.lint_first": ("[{rule}] {message}", "[{rule}] {message}"),
    "checks.lint_first_more": (
        "[{rule}] {message} ({count} more after this one)",
        "[{rule}] {message} (이 뒤로 {count}개 더 있음)",
    ),
    # helpers/checks.py: lab 01
    "checks.lab01.still_warns": (
        "the linter still warns: [{rule}] {message}",
        "린터가 아직 경고합니다: [{rule}] {message}",
    ),
    "checks.lab01.lint_clean": ("lint: no errors, no warnings", "lint: 오류 없음, 경고 없음"),
    "checks.lab01.placeholder": (
        "the placeholder key values (replace-me) are still in the file: a manifest must not hold key values at "
        "all; they belong in a Secret made with kubectl create secret.",
        "자리표시자 키 값(replace-me)이 아직 파일에 있습니다. 매니페스트에는 키 값을 아예 두면 안 됩니다. "
        "키 값은 kubectl create secret으로 만든 Secret에 넣으세요.",
    ),
    "checks.lab01.keep_hello": (
        "keep the article's application: name hello at route_prefix /hello.",
        "원문의 애플리케이션을 유지하세요: 이름은 hello, route_prefix는 /hello.",
    ),
    "checks.lab01.two_replicas": (
        "the article runs 2 replicas of hello's deployment; you have {replicas}.",
        "원문은 hello의 deployment를 replica 2개로 실행합니다. 지금 파일은 {replicas}입니다.",
    ),
    "checks.lab01.serve_ok": (
        "serveConfigV2 is a string in Serve's snake_case schema; hello at /hello with 2 replicas",
        "serveConfigV2가 Serve의 snake_case 스키마로 쓴 문자열입니다. hello는 /hello에서 replica 2개",
    ),
    "checks.lab01.no_secret_ref": (
        "the {where} container has no env {name} read from a Secret. Add\n  - name: {name}\n    valueFrom:\n"
        "      secretKeyRef: {{name: aws-credentials, key: {name}}}\nto its env: (the replicas run in every Ray "
        "container, so each needs it).",
        "{where} 컨테이너에 Secret에서 읽는 env {name}이(가) 없습니다. env:에 다음을 추가하세요.\n"
        "  - name: {name}\n    valueFrom:\n      secretKeyRef: {{name: aws-credentials, key: {name}}}\n"
        "(replica는 모든 Ray 컨테이너에서 실행될 수 있으므로 컨테이너마다 필요합니다.)",
    ),
    "checks.lab01.head": ("head", "헤드"),
    "checks.lab01.worker_group": ("worker group {group}", "워커 그룹 {group}"),
    "checks.lab01.two_sources": (
        "{name} comes from Secret {secret} key {key} in the {where} container, but from Secret {secret2} key "
        "{key2} in the {where2} container. You create one Secret: every Ray container must read it by the same "
        "name and keys (a replica may run in any of them).",
        "{name}을(를) {where} 컨테이너는 Secret {secret}의 키 {key}에서, {where2} 컨테이너는 Secret {secret2}의 "
        "키 {key2}에서 읽습니다. Secret은 하나만 만듭니다. 모든 Ray 컨테이너가 같은 이름과 키로 읽어야 합니다"
        "(replica는 어느 컨테이너에서든 실행될 수 있습니다).",
    ),
    "checks.lab01.many_secrets": (
        "the two keys come from {count} Secrets ({names}): put both keys in one Secret (kubectl create secret "
        "generic NAME --from-literal=... --from-literal=...) and read both from it.",
        "두 키를 Secret {count}개({names})에서 읽습니다. 두 키를 Secret 하나에 넣고(kubectl create secret "
        "generic NAME --from-literal=... --from-literal=...) 둘 다 거기서 읽으세요.",
    ),
    "checks.lab01.secret_ok": (
        "{names} come from Secret {secret} (secretKeyRef), the same name and keys in every Ray container",
        "{names}을(를) 모든 Ray 컨테이너가 같은 이름과 키로 Secret {secret}에서 읽습니다(secretKeyRef)",
    ),
    # helpers/checks.py: lab 02
    "checks.lab02.add_third": (
        "your manifest has {count} application(s) at {routes}: add a third one with its own name and a new "
        "route_prefix (copy the predict-a block and change name, route_prefix and args).",
        "매니페스트에 애플리케이션이 {count}개({routes}) 있습니다. 자기 이름과 새 route_prefix를 가진 세 번째 "
        "애플리케이션을 추가하세요(predict-a 블록을 복사해 name, route_prefix, args를 바꾸면 됩니다).",
    ),
    "checks.lab02.apps": (
        "{count} applications; new route prefix(es): {routes}",
        "애플리케이션 {count}개, 새 route prefix: {routes}",
    ),
    "checks.lab02.no_service": (
        "no RayService to check ({error}): apply your file first.",
        "확인할 RayService가 없습니다({error}). 먼저 파일을 apply하세요.",
    ),
    "checks.lab02.not_running_said": (
        "{apps} is applied but not RUNNING. What Serve says: {said}",
        "{apps}은(는) apply됐지만 RUNNING이 아닙니다. Serve의 메시지: {said}",
    ),
    "checks.lab02.nothing_yet": (
        "nothing yet: wait with backend.wait_ready() and check again.",
        "아직 없습니다. backend.wait_ready()로 기다린 뒤 다시 확인하세요.",
    ),
    "checks.lab02.not_running": (
        "{apps} is not RUNNING on the cluster: apply your file with backend.apply({path}) and wait with "
        "backend.wait_ready().",
        "{apps}이(가) 클러스터에서 RUNNING이 아닙니다. backend.apply({path})로 파일을 apply하고 "
        "backend.wait_ready()로 기다리세요.",
    ),
    "checks.lab02.route_failed": (
        "{route} answered {ok}/{sent} requests: {error}",
        "{route}가 요청 {sent}개 중 {ok}개에 응답했습니다: {error}",
    ),
    "checks.lab02.foreign": (
        "{count} answer(s) on {route} came from another application's replica.",
        "{route}의 응답 {count}개가 다른 애플리케이션의 replica에서 왔습니다.",
    ),
    "checks.lab02.route_ok": (
        "{route} -> {app}: {ok}/{sent} answered, by {replicas} replica(s) of {app} only",
        "{route} -> {app}: {sent}개 중 {ok}개 응답, 모두 {app}의 replica {replicas}개가 응답",
    ),
    # helpers/checks.py: lab 03
    "checks.lab03.bad_yaml": ("{path} is not valid YAML: {error}", "{path}이(가) 올바른 YAML이 아닙니다: {error}"),
    "checks.lab03.three_keys": (
        "{path} must hold three keys: num_replicas, max_replicas_per_node, client_retries.",
        "{path}에는 키 세 개가 있어야 합니다: num_replicas, max_replicas_per_node, client_retries.",
    ),
    "checks.lab03.unknown_keys": (
        "{path}: unknown key(s) {keys}; the lab reads num_replicas, max_replicas_per_node and client_retries.",
        "{path}: 모르는 키 {keys}. 이 실습은 num_replicas, max_replicas_per_node, client_retries만 읽습니다.",
    ),
    "checks.lab03.problems": ("{path}: {problems}.", "{path}: {problems}."),  # each problem is translated
    "checks.lab03.num_replicas": (
        "num_replicas: {value}: write a whole number from 1 to {most}",
        "num_replicas: {value}: 1부터 {most}까지의 정수를 쓰세요",
    ),
    "checks.lab03.max_per_node": (
        "max_replicas_per_node: {value}: write null or a whole number >= 1",
        "max_replicas_per_node: {value}: null 또는 1 이상의 정수를 쓰세요",
    ),
    "checks.lab03.retries": (
        "client_retries: {value}: write true or false",
        "client_retries: {value}: true 또는 false를 쓰세요",
    ),
    "checks.lab03.no_room": (
        "{n} replicas with at most {spread} per node need {need} nodes; the cluster has {nodes}. Serve would "
        "wait forever for room: change num_replicas or max_replicas_per_node.",
        "노드당 최대 {spread}개로 replica {n}개를 놓으려면 노드가 {need}개 필요한데, "
        "클러스터의 노드는 {nodes}개입니다. "
        "Serve는 자리가 날 때까지 끝없이 기다립니다. num_replicas나 max_replicas_per_node를 바꾸세요.",
    ),
    "checks.lab03.choice": (
        "{n} replica(s) of hello, per node: {placement}; client retries {retries}",
        "hello의 replica {n}개, 노드별: {placement}. 클라이언트 재시도 {retries}",
    ),
    "checks.lab03.on": ("on", "켬"),
    "checks.lab03.off": ("off", "끔"),
    "checks.lab03.left_serving": (
        "{report}; {count} replica(s) left serving",
        "{report}. 서빙하는 replica {count}개 남음",
    ),
    "checks.lab03.kill_budget": (
        "while Serve replaced the killed replica, {count} replica(s) served; the budget is {budget} at every "
        "moment. How many must run so that losing one still leaves {budget}?",
        "Serve가 종료된 replica를 교체하는 동안 replica {count}개가 서빙했습니다. "
        "목표는 어느 순간에나 {budget}개입니다. "
        "하나를 잃어도 {budget}개가 남으려면 몇 개가 실행되어야 할까요?",
    ),
    "checks.lab03.node_budget": (
        "the lost worker node took its replicas with it and {count} served (yours were placed {placement}). A "
        "node's loss takes every replica on it: how many may one node hold so that the other node alone still "
        "has {budget}? max_replicas_per_node sets that, and num_replicas must fit under it.",
        "잃은 워커 노드가 자기 replica를 모두 가져가서 {count}개만 서빙했습니다(배치: {placement}). 노드를 잃으면 "
        "그 노드의 replica를 모두 잃습니다. 다른 노드만으로 {budget}개가 남으려면 한 노드에 몇 개까지 둘 수 있을까요? "
        "그 값을 정하는 것이 max_replicas_per_node이고, num_replicas는 그 안에 들어가야 합니다.",
    ),
    "checks.lab03.in_flight": (
        "enough replicas served, yet requests failed during '{fault}': the requests already on their way to "
        "the replica that died. Who can send those again?",
        "replica는 충분히 서빙했지만 '{fault}' 동안 요청이 실패했습니다. 죽은 replica로 이미 가고 있던 요청들입니다. "
        "그 요청을 다시 보낼 수 있는 쪽은 누구일까요?",
    ),
    "checks.lab03.with_retries": (
        "requests failed during '{fault}' even with retries: look at the failure times above.",
        "재시도를 켰는데도 '{fault}' 동안 요청이 실패했습니다. 위의 실패 시각을 살펴보세요.",
    ),
    "checks.lab03.replica_killed": ("replica killed", "replica 종료"),
    "checks.lab03.node_lost": ("worker node lost", "워커 노드 손실"),
    # helpers/checks.py: lab 04
    "checks.lab04.cluster_changed": (
        "you changed rayClusterConfig. On kind, KubeRay would build a whole new cluster for that; the nodes you "
        "have are enough: the change belongs in serveConfigV2.",
        "rayClusterConfig를 바꿨습니다. kind에서는 KubeRay가 그 때문에 클러스터를 통째로 새로 만듭니다. 지금 노드로 "
        "충분하니 변경은 serveConfigV2에 두세요.",
    ),
    "checks.lab04.keep_route": (
        "keep the route the clients use (/hello); yours are {routes}.",
        "클라이언트가 쓰는 경로(/hello)를 유지하세요. 지금 파일의 경로: {routes}.",
    ),
    "checks.lab04.replicas": (
        "hello's deployment Hello asks for {replicas} replica(s) in your file{same}; the task is {target} "
        "replicas serving. Which field of the deployment says how many?",
        "파일에서 hello의 deployment Hello는 replica {replicas}개를 요청합니다{same}. 과제는 replica {target}개가 "
        "서빙하는 것입니다. deployment의 어느 필드가 개수를 정할까요?",
    ),
    "checks.lab04.same_file": (
        " (your file is the same as the running version)",
        " (파일이 실행 중인 버전과 같습니다)",
    ),
    "checks.lab04.deploying": (
        "Deploying the starting version (manifests/ray-service.yaml) first...",
        "먼저 시작 버전(manifests/ray-service.yaml)을 배포합니다...",
    ),
    "checks.lab04.deploy_failed": (
        "your new version failed to deploy, and Serve kept the old one serving ({failed} failed requests): {error}",
        "새 버전 배포가 실패했고 Serve는 이전 버전으로 계속 서빙했습니다(실패한 요청 {failed}개): {error}",
    ),
    "checks.lab04.restarted": (
        "{count} of the {before} replicas that were serving were stopped and replaced by new ones: besides "
        "num_replicas you changed {fields}. Serve restarts the replicas for some fields and applies others to "
        "the running ones: which is which?",
        "서빙하던 replica {before}개 중 {count}개가 중지되고 새 replica로 교체됐습니다. num_replicas 말고도 "
        "{fields}을(를) 바꿨습니다. Serve는 어떤 필드는 replica를 재시작해 반영하고, 어떤 필드는 실행 중인 replica에 "
        "그대로 반영합니다. 어느 쪽이 어느 쪽일까요?",
    ),
    "checks.lab04.failed_anyway": (
        "{failed} requests failed during the update although no replica was stopped: look at when (above), and "
        "run the check again.",
        "중지된 replica가 없는데도 업데이트 중에 요청 {failed}개가 실패했습니다. 언제 실패했는지(위) 보고 "
        "확인을 다시 실행하세요.",
    ),
    "checks.lab04.ok": (
        "Serve runs {after} replicas of hello, the {before} that were serving among them (none restarted); "
        "{answered} different replicas answered the clients after the update started",
        "Serve가 hello의 replica {after}개를 실행하고, 서빙하던 {before}개가 그 안에 있습니다(재시작 없음). "
        "업데이트가 시작된 뒤 서로 다른 replica {answered}개가 클라이언트에 응답했습니다",
    ),
    "checks.lab04.count": (
        "Serve lists {after} running replicas of hello, not {target}.",
        "Serve가 보여 주는 hello의 실행 중인 replica는 {target}개가 아니라 {after}개입니다.",
    ),
    # helpers/lint.py: the report
    "lint.ok": ("{path}: ok ({count} rules)", "{path}: 문제 없음 (규칙 {count}개)"),
    "lint.counts": ("{path}: {errors} error(s), {warnings} warning(s)", "{path}: 오류 {errors}개, 경고 {warnings}개"),
    "lint.error": ("error", "오류"),
    "lint.warning": ("warning", "경고"),
    # helpers/lint.py: the findings learners meet most (lab 01, lesson 02)
    "lint.v1alpha1": (
        "apiVersion ray.io/v1alpha1 is deprecated (removed in KubeRay 1.9): write apiVersion: ray.io/v1",
        "apiVersion ray.io/v1alpha1은 더 이상 권장되지 않습니다(KubeRay 1.9에서 제거). apiVersion: ray.io/v1로 쓰세요",
    ),
    "lint.api_version": (
        "apiVersion is {api}: write apiVersion: {want}",
        "apiVersion이 {api}입니다. apiVersion: {want}로 쓰세요",
    ),
    "lint.kind": ("kind is {kind}: write kind: RayService", "kind가 {kind}입니다. kind: RayService로 쓰세요"),
    "lint.name_missing": (
        "metadata.name is missing: give the RayService a name, e.g. name: ray-serve-app",
        "metadata.name이 없습니다. RayService에 이름을 붙이세요(예: name: ray-serve-app)",
    ),
    "lint.serve_config_v1": (
        "spec.serveConfig is the old v1alpha1 single-application field: write spec.serveConfigV2 as a YAML "
        "string with an 'applications:' list",
        "spec.serveConfig는 애플리케이션 하나만 받던 예전 v1alpha1 필드입니다. spec.serveConfigV2를 "
        "'applications:' 목록이 있는 YAML 문자열로 쓰세요",
    ),
    "lint.serve_config_missing": (
        "spec.serveConfigV2 is missing: add `serveConfigV2: |` followed by a Ray Serve config (applications: - "
        "name: ..., route_prefix: ..., import_path: ...)",
        "spec.serveConfigV2가 없습니다. `serveConfigV2: |` 아래에 Ray Serve 설정을 추가하세요(applications: - "
        "name: ..., route_prefix: ..., import_path: ...)",
    ),
    "lint.serve_config_object": (
        "spec.serveConfigV2 is an object, but KubeRay expects a YAML *string* in Ray Serve's snake_case schema. "
        "Write `serveConfigV2: |` and indent the config below it. For example:\n{example}",
        "spec.serveConfigV2가 객체입니다. KubeRay는 Ray Serve의 snake_case 스키마로 쓴 YAML *문자열*을 기대합니다. "
        "`serveConfigV2: |`를 쓰고 그 아래에 설정을 들여 쓰세요. 예:\n{example}",
    ),
    "lint.serve_config_yaml": (
        "spec.serveConfigV2 is not valid YAML{where}: {problem}",
        "spec.serveConfigV2가 올바른 YAML이 아닙니다{where}: {problem}",
    ),
    "lint.serve_config_mapping": (
        "spec.serveConfigV2 must hold a mapping with an 'applications:' list",
        "spec.serveConfigV2에는 'applications:' 목록이 있는 매핑이 있어야 합니다",
    ),
    "lint.camel_case": (
        "spec.serveConfigV2 uses camelCase keys; Ray Serve's schema is snake_case: rename {renames}",
        "spec.serveConfigV2가 camelCase 키를 씁니다. Ray Serve의 스키마는 snake_case입니다. 이름을 바꾸세요: {renames}",
    ),
    "lint.route_prefix": (
        "spec.serveConfigV2: application {app} has route_prefix {prefix}: Serve routes by URL path, so write "
        "route_prefix: {fixed}",
        "spec.serveConfigV2: 애플리케이션 {app}의 route_prefix가 {prefix}입니다. Serve는 URL 경로로 라우팅하므로 "
        "route_prefix: {fixed}로 쓰세요",
    ),
    "lint.duplicate_route": (
        "spec.serveConfigV2: applications {first} and {second} share route_prefix {prefix}: give each "
        "application its own prefix",
        "spec.serveConfigV2: 애플리케이션 {first}와(과) {second}가 route_prefix {prefix}를 함께 씁니다. "
        "애플리케이션마다 자기 prefix를 주세요",
    ),
    "lint.ray_version": (
        "rayVersion is {version} but {where} container {name} runs image {image}: KubeRay reads rayVersion to "
        'decide how to talk to Ray, so set both to the same version (rayVersion: "{tag}", or change the image tag)',
        "rayVersion은 {version}인데 {where} 컨테이너 {name}은(는) 이미지 {image}를 실행합니다. KubeRay는 rayVersion을 "
        '보고 Ray와 통신하는 방식을 정하므로 둘을 같은 버전으로 맞추세요(rayVersion: "{tag}", 또는 이미지 태그 변경)',
    ),
    "lint.ray_cve": (
        "Ray {version} is affected by CVE-2026-27482 (unauthenticated DELETE endpoints on the dashboard): use "
        "Ray {fixed} (rayVersion and image tag rayproject/ray:{fixed})",
        "Ray {version}은(는) CVE-2026-27482(대시보드의 인증 없는 DELETE 엔드포인트)의 영향을 받습니다. Ray {fixed} "
        "버전을 쓰세요(rayVersion과 이미지 태그 rayproject/ray:{fixed})",
    ),
    "lint.serve_port": (
        "the head container has no port named 'serve'{listed}: KubeRay builds the <name>-serve-svc Service from "
        "the port named serve, so write ports: - {{containerPort: 8000, name: serve}}",
        "헤드 컨테이너에 이름이 'serve'인 포트가 없습니다{listed}. KubeRay는 이름이 serve인 포트로 <name>-serve-svc "
        "Service를 만드므로 ports: - {{containerPort: 8000, name: serve}}로 쓰세요",
    ),
    "lint.serve_port_unnamed": (" (ports {ports} have no name)", "(포트 {ports}에 이름이 없음)"),
    "lint.inline_serve": (
        "credentials written inline in serveConfigV2 applications[{i}].{where} ({names}): anyone who can read the "
        "RayService can read them. Put them in a Kubernetes Secret (kubectl create secret generic ...) and "
        "reference it from the pod template: env: - name: ... valueFrom: secretKeyRef: {{name: ..., key: ...}}",
        "serveConfigV2 applications[{i}].{where}에 자격 증명이 그대로 적혀 있습니다({names}). RayService를 읽을 수 "
        "있는 사람은 누구나 이 값을 읽습니다. Kubernetes Secret에 넣고(kubectl create secret generic ...) pod "
        "template에서 참조하세요: env: - name: ... valueFrom: secretKeyRef: {{name: ..., key: ...}}",
    ),
    "lint.inline_pod": (
        "credentials written inline in rayClusterConfig.{where} container {name} env {env}: use "
        "valueFrom.secretKeyRef pointing at a Kubernetes Secret instead of value:",
        "rayClusterConfig.{where} 컨테이너 {name}의 env {env}에 자격 증명이 그대로 적혀 있습니다. value: 대신 "
        "Kubernetes Secret을 가리키는 valueFrom.secretKeyRef를 쓰세요",
    ),
    # helpers/lint.py: the other rules (names, Serve's schema, the CRD, the cluster, GCS fault tolerance, CPUs)
    "lint.name_invalid": (
        "metadata.name {name} is not a valid Kubernetes name: use lower-case letters, digits and '-', starting "
        "with a letter",
        "metadata.name {name}은(는) 올바른 Kubernetes 이름이 아닙니다. 소문자, 숫자, '-'만 쓰고 글자로 시작하세요",
    ),
    "lint.name_length": (
        "metadata.name {name} has {count} characters; KubeRay allows at most {limit}: choose a shorter name",
        "metadata.name {name}은(는) {count}자입니다. KubeRay는 최대 {limit}자까지 허용하므로 더 짧은 이름을 고르세요",
    ),
    "lint.serve_schema": (
        "spec.serveConfigV2: {where}: {problem} (got {value}) [Ray Serve's ServeDeploySchema]",
        "spec.serveConfigV2: {where}: {problem} (입력값 {value}) [Ray Serve의 ServeDeploySchema]",
    ),
    "lint.serve_unknown": (
        "spec.serveConfigV2: {here}: `{key}` is not a key of {where} in Ray Serve's schema ({model}); {effect}: {fix}",
        "spec.serveConfigV2: {here}: `{key}`은(는) Ray Serve 스키마({model})에서 {where}의 키가 아닙니다. "
        "{effect}: {fix}",
    ),
    "lint.serve_unknown_rejected": ("Ray Serve rejects it", "Ray Serve가 이 키를 거부합니다"),
    "lint.serve_unknown_ignored": (
        "Ray Serve ignores unknown keys without a word, so the option you meant keeps its default",
        "Ray Serve는 모르는 키를 아무 말 없이 무시하므로, 뜻한 옵션은 기본값 그대로입니다",
    ),
    "lint.did_you_mean_write": (
        "did you mean `{guess}`? Write {key}: {value}",
        "`{guess}`을(를) 뜻했나요? {key}: {value}로 쓰세요",
    ),
    "lint.keys_there": ("the keys there are: {keys}", "그 자리에 쓸 수 있는 키: {keys}"),
    "lint.crd_unknown": (
        "{here} is not a field of a RayService (KubeRay v1.7.0's CRD has no `{key}` there): kubectl apply rejects "
        "it (strict field validation: unknown field), and an API server that lets it through drops it, {effect}; "
        "{fix}",
        "{here}은(는) RayService의 필드가 아닙니다(KubeRay v1.7.0의 CRD에는 그 자리에 `{key}`가 없습니다). "
        "kubectl apply는 이를 거부하고(strict field validation: unknown field), 통과시키는 API 서버는 이를 버리므로 "
        "{effect}. {fix}",
    ),
    "lint.crd_never_sees": ("so KubeRay never sees it", "KubeRay는 이 필드를 보지 못합니다"),
    "lint.crd_no_workers": (
        "and KubeRay builds the head and no worker nodes",
        "KubeRay는 헤드만 만들고 워커 노드는 만들지 않습니다",
    ),
    "lint.did_you_mean_rename": (
        "did you mean `{guess}`? Rename it to {name}:",
        "`{guess}`을(를) 뜻했나요? 이름을 {name}:(으)로 바꾸세요",
    ),
    "lint.fields_there": ("the fields there are: {fields}", "그 자리에 쓸 수 있는 필드: {fields}"),
    "lint.cluster_missing": (
        "spec.rayClusterConfig is missing: add headGroupSpec (and workerGroupSpecs)",
        "spec.rayClusterConfig가 없습니다. headGroupSpec(과 workerGroupSpecs)을 추가하세요",
    ),
    "lint.containers_missing": (
        "{where} needs template.spec.containers with the Ray image",
        "{where}에는 Ray 이미지를 쓰는 template.spec.containers가 필요합니다",
    ),
    "lint.worker_groups_list": (
        "spec.rayClusterConfig.workerGroupSpecs must be a list of worker groups",
        "spec.rayClusterConfig.workerGroupSpecs는 워커 그룹의 리스트여야 합니다",
    ),
    "lint.group_name_missing": (
        "{where}.groupName is missing: name the group, e.g. groupName: workers",
        "{where}.groupName이 없습니다. 그룹에 이름을 붙이세요. 예: groupName: workers",
    ),
    "lint.whole_number": (
        "{where} is {value}: write a whole number >= 0",
        "{where} 값이 {value}입니다. 0 이상의 정수를 쓰세요",
    ),
    "lint.cpu_not_a_number": (
        "{where}: the CPU count is not a number: write e.g. rayStartParams: {{num-cpus: '1'}} or limits: {{cpu: '1'}}",
        "{where}: CPU 수가 숫자가 아닙니다. 예: rayStartParams: {{num-cpus: '1'}} 또는 limits: {{cpu: '1'}}로 쓰세요",
    ),
    "lint.gcs_env_without_options": (
        "the head container sets RAY_REDIS_ADDRESS, which turns GCS fault tolerance on, but "
        "gcsFaultToleranceOptions is not set: KubeRay rejects the RayService. Remove the env and write "
        "rayClusterConfig.gcsFaultToleranceOptions: {{redisAddress: ..., redisPassword: {{valueFrom: "
        "{{secretKeyRef: ...}}}}}} (see manifests/ray-service-ha.yaml)",
        "헤드 컨테이너가 GCS fault tolerance를 켜는 RAY_REDIS_ADDRESS를 설정하지만 gcsFaultToleranceOptions가 "
        "없습니다. KubeRay는 이 RayService를 거부합니다. 그 env를 지우고 rayClusterConfig.gcsFaultToleranceOptions: "
        "{{redisAddress: ..., redisPassword: {{valueFrom: {{secretKeyRef: ...}}}}}}로 쓰세요"
        "(manifests/ray-service-ha.yaml 참고)",
    ),
    "lint.gcs_rocksdb": (
        "gcsFaultToleranceOptions.backend is rocksdb, but Ray {version}'s GCS has no RocksDB storage (newer Ray "
        "versions add it; KubeRay v1.7.0 also needs its GCSFaultToleranceEmbeddedStorage feature gate): use "
        "Redis: remove backend (or write backend: redis) and storage, and set redisAddress and redisPassword from "
        "a Secret, as in manifests/ray-service-ha.yaml",
        "gcsFaultToleranceOptions.backend가 rocksdb이지만 Ray {version}의 GCS에는 RocksDB 저장소가 없습니다(더 새 "
        "Ray 버전에서 추가되며, KubeRay v1.7.0에서는 GCSFaultToleranceEmbeddedStorage feature gate도 필요합니다). "
        "Redis를 쓰세요: backend(또는 backend: redis로 쓰고)와 storage를 지우고, manifests/ray-service-ha.yaml처럼 "
        "redisAddress와 Secret에서 읽는 redisPassword를 설정하세요",
    ),
    "lint.gcs_no_redis_address": (
        "gcsFaultToleranceOptions has no redisAddress: KubeRay passes it to the head as RAY_REDIS_ADDRESS, and "
        'without it the GCS keeps its tables in the head\'s memory. Write redisAddress: "redis:6379" (the Service '
        "of manifests/redis/)",
        "gcsFaultToleranceOptions에 redisAddress가 없습니다. KubeRay는 이 값을 헤드에 RAY_REDIS_ADDRESS로 "
        '넘기며, 이 값이 없으면 GCS는 테이블을 헤드의 메모리에 둡니다. redisAddress: "redis:6379"로 쓰세요'
        "(manifests/redis/의 Service)",
    ),
    "lint.gcs_env_by_hand": (
        "the head container sets {name} by hand next to gcsFaultToleranceOptions: KubeRay sets it from "
        "gcsFaultToleranceOptions.{field} and rejects the RayService when both are there. Remove the env entry; "
        "write only gcsFaultToleranceOptions.{same_field}",
        "헤드 컨테이너가 gcsFaultToleranceOptions와 함께 {name}을(를) 직접 설정합니다. KubeRay는 이 값을 "
        "gcsFaultToleranceOptions.{field}에서 설정하며, 둘 다 있으면 RayService를 거부합니다. 그 env 항목을 지우고 "
        "gcsFaultToleranceOptions.{same_field}만 쓰세요",
    ),
    "lint.gcs_redis_password_param": (
        "headGroupSpec.rayStartParams sets redis-password next to gcsFaultToleranceOptions: KubeRay rejects the "
        "RayService (it passes --redis-password=$REDIS_PASSWORD itself). Remove it; write "
        "gcsFaultToleranceOptions.redisPassword: {{valueFrom: {{secretKeyRef: {{name: redis-password, key: "
        "password}}}}}}",
        "headGroupSpec.rayStartParams가 gcsFaultToleranceOptions와 함께 redis-password를 설정합니다. KubeRay는 이 "
        "RayService를 거부합니다(--redis-password=$REDIS_PASSWORD를 직접 넘깁니다). 그 항목을 지우고 "
        "gcsFaultToleranceOptions.redisPassword: {{valueFrom: {{secretKeyRef: {{name: redis-password, key: "
        "password}}}}}}로 쓰세요",
    ),
    "lint.replica_cpus": (
        "deployment {deployment} of application {app} asks for {cpus} CPUs per replica "
        "(ray_actor_options.num_cpus{note}), but the largest Ray node has {largest}: no node can ever hold it. "
        "Lower num_cpus (e.g. 0.2) or give the nodes more CPUs (rayStartParams num-cpus, or resources.limits.cpu)",
        "애플리케이션 {app}의 deployment {deployment}는 replica마다 CPU {cpus}개를 요청하지만"
        "(ray_actor_options.num_cpus{note}) 가장 큰 Ray 노드의 CPU는 {largest}개입니다. 어떤 노드도 이 replica를 "
        "담을 수 없습니다. num_cpus를 낮추거나(예: 0.2) 노드에 CPU를 더 주세요(rayStartParams num-cpus 또는 "
        "resources.limits.cpu)",
    ),
    "lint.cpus_when_not_set": (", 1 when not set", ", 쓰지 않으면 1"),
    "lint.replica_capacity": (
        "the replicas ask for {needed} CPUs in all but the cluster has {total} (head + worker replicas): Serve "
        "would leave the extra replicas PENDING forever. The largest share is {label} ({share} CPUs): lower "
        "num_replicas or num_cpus, or add worker replicas",
        "replica들이 모두 합쳐 CPU {needed}개를 요청하지만 클러스터에는 {total}개뿐입니다(헤드 + 워커 replica). "
        "Serve는 넘치는 replica를 영원히 PENDING으로 둡니다. 가장 큰 몫은 {label}({share} CPU)입니다. "
        "num_replicas나 num_cpus를 낮추거나 워커 replica를 늘리세요",
    ),
    "lint.upgrade_room": (
        "the Ray pods request {need} CPUs in all, {twice} while a rayClusterConfig change runs two RayClusters, more "
        "than a {node}-CPU node has for them ({room} beside CoreDNS and the operator): the new cluster's pods would "
        "stay Pending and the upgrade never finish. Lower resources.requests.cpu (e.g. 200m); "
        "resources.limits.cpu stays what Ray counts as the pod's CPUs",
        "Ray 파드들이 모두 합쳐 CPU {need}개를 요청하고, rayClusterConfig 변경으로 RayCluster 두 개가 "
        "함께 도는 동안에는 {twice}개를 요청합니다. CPU {node}개짜리 노드가 이들에게 줄 수 있는 양"
        "({room}개, CoreDNS와 operator 몫을 뺀 값)보다 많으므로 새 클러스터의 파드는 Pending에 머물고 "
        "업그레이드는 끝나지 않습니다. resources.requests.cpu를 낮추세요(예: 200m). Ray가 파드의 CPU로 "
        "세는 값은 resources.limits.cpu 그대로입니다",
    ),
    "lint.replica_packing": (
        "the replicas need {needed} CPUs and the cluster has {total}, but each replica needs its CPUs on ONE node "
        "and no placement fits them all ({layout}): placing the largest first, a replica of {label} ({cpus} "
        "CPU{note}) {blocked}. Serve would leave it PENDING forever. To fix it, {fixes}.",
        "replica들에는 CPU {needed}개가 필요하고 클러스터에는 {total}개가 있지만, replica마다 CPU가 한 노드 "
        "안에 있어야 하고 어떤 배치로도 모두 들어가지 않습니다({layout}). 큰 것부터 배치하면 {label}의 replica"
        "({cpus} CPU{note})가 {blocked}. Serve는 이 replica를 영원히 PENDING으로 둡니다. 고치려면: {fixes}.",
    ),
    "lint.packing_per_node": (
        "finds no node it may go to: the nodes with {cpus} CPU free already hold max_replicas_per_node "
        "({per_node}) of its replicas",
        "갈 수 있는 노드를 찾지 못합니다. CPU {cpus}개가 남은 노드에는 이미 이 deployment의 replica가 "
        "max_replicas_per_node({per_node})개 있습니다",
    ),
    "lint.packing_no_room": (
        "finds no node with {cpus} CPU free (the most left on one node is {most})",
        "CPU {cpus}개가 남은 노드를 찾지 못합니다(한 노드에 남은 최대치는 {most})",
    ),
    "lint.default_cpus_note": (
        ", Serve's default when ray_actor_options.num_cpus is not set",
        ", ray_actor_options.num_cpus를 쓰지 않았을 때 Serve의 기본값",
    ),
    "lint.replica_placement": (
        "the replicas fit only if Serve places them well: Serve spreads replicas over the nodes as they start, "
        "and if they land as {path}, a replica of {label} ({cpus} CPU{note}) finds no node with {free_cpus} CPU "
        "free (at most {most} is left on one node): it stays PENDING and application {app} never becomes "
        "RUNNING. To fix it, {fixes}: then every placement fits.",
        "replica들은 Serve가 잘 배치할 때만 들어갑니다. Serve는 replica가 시작될 때 노드에 나눠 놓는데, "
        "{path}(으)로 놓이면 {label}의 replica({cpus} CPU{note})가 CPU {free_cpus}개가 남은 노드를 찾지 못합니다"
        "(한 노드에 남은 최대치는 {most}). 그 replica는 PENDING으로 남고 애플리케이션 {app}은(는) RUNNING이 "
        "되지 않습니다. 고치려면: {fixes}. 그러면 어떤 배치든 들어갑니다.",
    ),
    # helpers/lint.py: the rules as `python -m helpers lint --rules` lists them
    "lint.rule.api_version": (
        "apiVersion is ray.io/v1 (v1alpha1 is deprecated, removed in KubeRay 1.9)",
        "apiVersion은 ray.io/v1 (v1alpha1은 지원 중단, KubeRay 1.9에서 제거)",
    ),
    "lint.rule.kind": (
        "kind is RayService",
        "kind는 RayService",
    ),
    "lint.rule.name": (
        "metadata.name is a valid Kubernetes name",
        "metadata.name은 올바른 Kubernetes 이름",
    ),
    "lint.rule.name_length": (
        "metadata.name has at most {count} characters",
        "metadata.name은 최대 {count}자",
    ),
    "lint.rule.serve_config_string": (
        "spec.serveConfigV2 is a YAML string (`serveConfigV2: |`) holding a mapping",
        "spec.serveConfigV2는 매핑을 담은 YAML 문자열(`serveConfigV2: |`)",
    ),
    "lint.rule.camel_case_keys": (
        "Serve config keys are snake_case (route_prefix, import_path, num_replicas, env_vars)",
        "Serve 설정 키는 snake_case (route_prefix, import_path, num_replicas, env_vars)",
    ),
    "lint.rule.serve_schema": (
        "spec.serveConfigV2 passes Ray Serve's own ServeDeploySchema",
        "spec.serveConfigV2가 Ray Serve 자체의 ServeDeploySchema를 통과",
    ),
    "lint.rule.serve_unknown_keys": (
        "every key in spec.serveConfigV2 is an option of Ray Serve's schema (Serve ignores unknown ones silently)",
        "spec.serveConfigV2의 모든 키가 Ray Serve 스키마의 옵션 (모르는 키는 Serve가 조용히 무시)",
    ),
    "lint.rule.route_prefix": (
        "every route_prefix starts with '/' (and does not end with one, except '/' itself)",
        "모든 route_prefix는 '/'로 시작 ('/' 자신 말고는 '/'로 끝나지 않음)",
    ),
    "lint.rule.duplicate_route": (
        "every application has its own route_prefix",
        "애플리케이션마다 자기 route_prefix",
    ),
    "lint.rule.crd_unknown_fields": (
        "every field of the RayService is in KubeRay's CRD schema (kubectl apply rejects others)",
        "RayService의 모든 필드가 KubeRay CRD 스키마에 있음 (다른 필드는 kubectl apply가 거부)",
    ),
    "lint.rule.cluster_config": (
        "rayClusterConfig has a head group and well-formed worker groups",
        "rayClusterConfig에 헤드 그룹과 올바른 워커 그룹이 있음",
    ),
    "lint.rule.ray_version": (
        "rayVersion matches the tag of every rayproject/ray image",
        "rayVersion이 모든 rayproject/ray 이미지의 태그와 일치",
    ),
    "lint.rule.ray_version_cve": (
        "Ray is newer than 2.53 (CVE-2026-27482: unauthenticated DELETE endpoints)",
        "Ray가 2.53보다 새 버전 (CVE-2026-27482: 인증 없는 DELETE 엔드포인트)",
    ),
    "lint.rule.serve_port": (
        "the head container names its Serve port `serve` (containerPort 8000)",
        "헤드 컨테이너의 Serve 포트 이름이 `serve` (containerPort 8000)",
    ),
    "lint.rule.gcs_fault_tolerance": (
        "gcsFaultToleranceOptions as KubeRay v1.7.0 and Ray accept it: Redis, set only there",
        "KubeRay v1.7.0과 Ray가 받아들이는 gcsFaultToleranceOptions: Redis, 그곳에서만 설정",
    ),
    "lint.rule.inline_credentials": (
        "no credentials written inline: reference a Kubernetes Secret instead",
        "자격 증명을 그대로 쓰지 않음: 대신 Kubernetes Secret을 참조",
    ),
    "lint.rule.upgrade_room": (
        "two RayClusters' CPU requests fit a 2-CPU node: a new-cluster upgrade runs both",
        "RayCluster 두 개의 CPU 요청이 CPU 2개짜리 노드에 들어감: 새 클러스터 업그레이드는 둘을 함께 실행",
    ),
    "lint.rule.replica_cpus": (
        "no replica asks for more CPUs than the largest node has",
        "어떤 replica도 가장 큰 노드보다 많은 CPU를 요청하지 않음",
    ),
    "lint.rule.replica_capacity": (
        "all replicas together fit in the cluster's CPUs",
        "모든 replica가 합쳐서 클러스터의 CPU에 들어감",
    ),
    "lint.rule.replica_packing": (
        "every replica's CPUs fit on ONE node: the replicas can be packed onto the nodes",
        "replica마다 CPU가 한 노드에 들어감: replica들을 노드에 배치할 수 있음",
    ),
    "lint.rule.replica_placement": (
        "the replicas fit whatever node Serve puts each one on (not only with one particular placement)",
        "Serve가 각 replica를 어느 노드에 두든 들어감 (특정 배치에서만이 아니라)",
    ),
    # helpers/preflight.py
    "preflight.python": ("Python >= 3.10", "Python >= 3.10"),
    "preflight.installed": ("installed {version}", "설치됨: {version}"),
    "preflight.ray_missing": (
        "not installed: run `make lab` (it installs everything)",
        "설치되지 않음: `make lab`을 실행하세요(모두 설치합니다)",
    ),
    "preflight.protobuf": (
        "protobuf < 7 (Ray 2.55 fails every deploy with protobuf 7)",
        "protobuf < 7 (protobuf 7에서는 Ray 2.55의 모든 배포가 실패)",
    ),
    "preflight.protobuf_pin": (
        "installed {version}; the lock file pins 6.33.6",
        "설치됨: {version}, lock 파일의 고정 버전은 6.33.6",
    ),
    "preflight.memory": ("memory available >= 4 GiB", "사용 가능한 메모리 >= 4 GiB"),
    "preflight.memory_have": ("{gib} GiB available", "{gib} GiB 사용 가능"),
    "preflight.cpus": ("CPU cores >= 2", "CPU 코어 >= 2"),
    "preflight.cores": ("{count} cores", "코어 {count}개"),
    "preflight.tool": ("{tool} installed", "{tool} 설치됨"),
    "preflight.not_found": ("not found: {hint}", "찾을 수 없음: {hint}"),
    "preflight.no_version": ("(no version printed)", "(버전 출력 없음)"),
    "preflight.api": ("Kubernetes API reachable", "Kubernetes API 연결 가능"),
    "preflight.answers": ("answers", "응답함"),
    "preflight.check_context": (
        "{reason} - check `kubectl config current-context`",
        "{reason} - `kubectl config current-context`를 확인하세요",
    ),
    "preflight.docker": ("Docker daemon reachable", "Docker 데몬 연결 가능"),
    "preflight.docker_missing": ("docker not found: {hint}", "docker를 찾을 수 없음: {hint}"),
    "preflight.docker_start": (
        "{reason} - start Docker (Docker Desktop, or `sudo systemctl start docker`)",
        "{reason} - Docker를 시작하세요(Docker Desktop, 또는 `sudo systemctl start docker`)",
    ),
    "preflight.docker_memory": ("memory for Docker >= {need} GiB ({what})", "Docker 메모리 >= {need} GiB ({what})"),
    "preflight.docker_has": ("Docker has {have} GiB", "Docker 메모리 {have} GiB"),
    "preflight.docker_short": (
        "Docker has {have} GiB, the lesson needs {need} GiB: {hint}",
        "Docker 메모리는 {have} GiB인데 레슨에는 {need} GiB가 필요합니다: {hint}",
    ),
    "preflight.docker_no_upgrade": (
        "Docker has {have} GiB: enough for this lesson, not for a cluster upgrade "
        "(lessons 04 and 05 need {need} GiB): {hint}",
        "Docker 메모리 {have} GiB: 이 레슨에는 충분하지만 클러스터 업그레이드에는 부족합니다"
        "(레슨 04와 05는 {need} GiB 필요): "
        "{hint}",
    ),
    "preflight.docker_hint": (
        "raise Docker's memory: Docker Desktop -> Settings -> Resources -> Memory (then Apply & restart); on Linux, "
        "Docker uses the machine's memory: close other programs or use a bigger machine",
        "Docker 메모리를 늘리세요: Docker Desktop -> Settings -> Resources -> Memory (그다음 Apply & restart). "
        "Linux에서는 Docker가 머신의 메모리를 쓰므로 다른 프로그램을 닫거나 더 큰 머신을 쓰세요",
    ),
    "preflight.unknown_backend": (
        "unknown: set BACKEND to one of {backends}",
        "알 수 없음: BACKEND를 {backends} 중 하나로 설정하세요",
    ),
}

_FORMATTER = string.Formatter()


def fields(template: str) -> list[str]:
    """The {fields} of a template, in order (repeats included)."""
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def literal(template: str) -> str:
    """The template's text without its fields, braces unescaped: what every message it matches contains."""
    return "".join(text for text, _, _, _ in _FORMATTER.parse(template))


# Fields that always hold a number: matched as one, so a message's own words cannot end up in them (in
# "[{rule}] {message} ({count} more after this one)" the message may hold " (" itself).
NUMBER_FIELDS = frozenset(
    ("count", "n", "ok", "sent", "errors", "warnings", "before", "after", "failed", "need", "nodes", "spread")
    + ("target", "answered", "budget", "gib", "have", "i", "most")
)


def _pattern(template: str) -> re.Pattern:
    parts, seen = [], set()
    for text, name, _, _ in _FORMATTER.parse(template):
        parts.append(re.escape(text))
        if name is None:
            continue
        group = r"[0-9][0-9.]*" if name in NUMBER_FIELDS else ".*?"
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{group})")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=1)
def _compiled() -> list[tuple[re.Pattern, str]]:
    """(pattern of the English template, Korean) for every entry, the most specific (longest text) first."""
    entries = sorted(CATALOG.values(), key=lambda pair: -len(literal(pair[0])))
    return [(_pattern(en), ko) for en, ko in entries]


def text(message_id: str, language: str | None = None, **values: object) -> str:
    """One catalog message by its id, filled in: ``text("checks.lab03.on")`` -> "on" (English) or "켬"."""
    en, ko = CATALOG[message_id]
    template = ko if (language or lang()) == "ko" and ko else en
    return template.format(**values)


def tr(message: str, language: str | None = None) -> str:
    """``message`` (as the helpers write it, in English) in the chosen language; unchanged when English is
    chosen or no catalog template matches it."""
    if (language or lang()) != "ko" or not message:
        return message
    return _to_korean(message)


def _to_korean(message: str) -> str:
    for pattern, ko in _compiled():
        match = pattern.fullmatch(message)
        if match:
            return ko.format(**{name: _to_korean(value) for name, value in match.groupdict().items()})
    return message


# -- the Korean notebooks' working directory -------------------------------------------------------------------------


def english_folder(folder: Path) -> Path:
    """notebooks/ko -> notebooks, labs/ko -> labs (the folder of the English notebook); any other folder as is."""
    if folder.name == EDITION_FOLDER and folder.parent.name in ("notebooks", "labs"):
        return folder.parent
    return folder


def use_english_folder() -> None:
    """In a Korean notebook's kernel (working directory notebooks/ko/ or labs/ko/), change to the English
    notebook's folder: the code cells are the English ones, and they read ``../manifests/...``."""
    try:
        here = Path.cwd()
    except OSError:  # the working directory was deleted
        return
    there = english_folder(here)
    if there != here and (there.parent / "helpers").is_dir():
        os.chdir(there)
