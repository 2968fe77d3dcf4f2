#!/usr/bin/env bash
# Lab 05 · By hand: your runbook. One function per step; write in each the commands you would type.
# The lab's check cells run one step from the repository root, e.g. `bash labs/answers/lab05-by-hand.sh deploy`,
# then grade what the cluster shows. You can run a step in a terminal the same way (on the host backend, first
# `eval "$(make -s host-env)"`, which points kubectl at the host cluster).
# Only kubectl and curl reach the cluster: the check refuses a script that calls python, make or the helpers.
set -euo pipefail
NS=${NS:-rayservice-lab05}                                # the lab's own namespace (not the lessons')
MANIFEST=${MANIFEST:-labs/answers/lab05-ray-service.yaml} # your copy of the two-application RayService
PORT=${PORT:-28000}                                       # Serve on 127.0.0.1:$PORT while a step runs
PS4='$ '                                                  # each command is printed as it runs: `$ command`

serve_port() { # given, not part of the task: 127.0.0.1:$PORT forwarded to the serve Service until the step ends
  { set +x; } 2>/dev/null
  kubectl -n "$NS" port-forward --address 127.0.0.1 svc/ray-serve-app-serve-svc "$PORT:8000" >/dev/null &
  trap "{ set +x; } 2>/dev/null; kill $! 2>/dev/null" EXIT
  local tries=40
  until curl -s -o /dev/null "http://127.0.0.1:$PORT/" || ((--tries == 0)); do sleep 0.5; done
  ((tries)) || { echo "no port-forward to svc/ray-serve-app-serve-svc in $NS: does the Service exist yet?" >&2; return 1; }
  set -x
}

deploy() {
  # From nothing: the namespace $NS, the ConfigMap `rayservice-tutorial-apps` with the code of manifests/apps/
  # (the pods mount it), your $MANIFEST applied, a wait until it serves, then serve_port and one curl per route.
  :
}

lose_worker() {
  # Delete the worker pod, wait until its replacement runs, then serve_port and curl both routes again.
  :
}

update() {
  # Change hello's `user_config` greeting in $MANIFEST (in your editor), apply it, wait until the change is
  # served (not only Ready: lesson 05), then serve_port and curl /hello.
  :
}

cleanup() {
  # Leave nothing of the lab behind in $NS.
  :
}

case "${1:-}" in
  deploy | lose_worker | update | cleanup) set -x && "$1" ;;
  *) echo "usage: bash $0 deploy|lose_worker|update|cleanup" >&2; exit 2 ;;
esac
