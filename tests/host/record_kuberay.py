"""Record what KubeRay does on the host cluster, for the played cluster to be held to (tests/kuberay_recorded.py).

    .venv/bin/python -m tests.host.record_kuberay     # about 10 minutes; brings the host cluster up if it is down

Each operation on lesson 04's RayService (manifests/ray-service.yaml), in its own namespace, then with GCS fault
tolerance (manifests/ray-service-ha.yaml, with the namespace's Redis): a first apply, an in-place serveConfigV2
change, the head pod deleted, a rayClusterConfig change (KubeRay's new-cluster upgrade), a worker pod deleted,
the RayService deleted. The head goes on the first cluster, as in lesson 04: once, with GCS fault tolerance, a
head lost after an upgrade and a worker loss (KubeRay v1.6.1, Ray 2.55.1) also restarted the worker's
containers and KubeRay deployed the applications again (Ready False, ZeroServeEndpoints, apps DEPLOYING), where
on a first cluster the worker kept serving (Ready True, the apps shown as none for a moment, then RUNNING).
Writes tests/data/kuberay-host-recorded.json and leaves the namespace empty (and the cluster down if it was).
"""

from __future__ import annotations

import datetime
import json
import time

from helpers import config
from helpers.backends.host import HostBackend
from tests.kuberay_recorded import RECORDING, operations

NAMESPACE = "rst-record"
HA = config.MANIFESTS_DIR / "ray-service-ha.yaml"
PLAIN = config.MANIFESTS_DIR / "ray-service.yaml"


def main() -> None:
    started = time.monotonic()
    backend = HostBackend(namespace=NAMESPACE)
    was_running = backend.running()
    backend.up(PLAIN)
    try:
        recorded = {
            "recorded": datetime.date.today().isoformat(),
            "versions": {k: config.HOST_VERSIONS[k] for k in ("kubernetes", "kuberay")} | {"ray": config.RAY_VERSION},
            "how": "python -m tests.host.record_kuberay (tests/kuberay_recorded.py: facets, every 0.25 s)",
            "without_gcs_ft": operations(backend, PLAIN),
            "with_gcs_ft": operations(backend, HA),
        }
    finally:
        if was_running:  # leave the cluster as it was found: this namespace empty
            backend.delete_redis()
            backend.stop_port_forwards()
        else:
            backend.down(quiet=True)
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    RECORDING.write_text(json.dumps(recorded, indent=1) + "\n")
    print(f"wrote {RECORDING} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
