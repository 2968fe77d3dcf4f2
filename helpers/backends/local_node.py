"""One Ray worker node of the local backend, run as its own process.

``ray start --address`` refuses to add nodes when the head is pinned to 127.0.0.1,
so a worker node is started with Ray's node API, as ``ray.cluster_utils.Cluster`` does. The Ray
processes of the node are children of this one and die with it: killing this process is how
the tutorial simulates losing a node.

    python -m helpers.backends.local_node --gcs 127.0.0.1:6379 --agent-port 23366 ...
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gcs", required=True, help="GCS address of the head, host:port")
    parser.add_argument("--agent-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--num-cpus", type=float, default=1.0)
    parser.add_argument("--object-store-memory", type=int, default=100_000_000)
    parser.add_argument("--temp-dir", required=True)
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args(argv)

    from ray._private.node import Node
    from ray._private.parameter import RayParams

    params = RayParams(
        gcs_address=args.gcs,
        node_ip_address="127.0.0.1",
        dashboard_agent_listen_port=args.agent_port,
        metrics_export_port=args.metrics_port,
        num_cpus=args.num_cpus,
        object_store_memory=args.object_store_memory,
        temp_dir=args.temp_dir,
    )
    node = Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)

    def stop(signum, frame):
        node.kill_all_processes(check_alive=False, allow_graceful=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    Path(args.ready_file).write_text(node.unique_id)
    print(f"worker node {node.unique_id} joined {args.gcs}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
