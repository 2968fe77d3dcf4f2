"""Keep every listener of the local backend on 127.0.0.1 (loaded only by its Ray processes).

Ray Serve 2.55 replicas open an inter-deployment gRPC server on ``[::]:0`` - every interface -
and no setting changes it (``ray/serve/_private/replica.py``). The local backend puts this folder
on the PYTHONPATH of the Ray processes it starts, and this hook rewrites that one wildcard
address to loopback. The node IP is 127.0.0.1, so peers connect there anyway.
"""

import os

if os.environ.get("RAYSERVICE_TUTORIAL_CLUSTER"):
    try:
        from grpc.aio import _server

        _add_insecure_port = _server.Server.add_insecure_port

        def _loopback_add_insecure_port(self, address):
            if address.startswith(("[::]:", "0.0.0.0:")):
                address = "127.0.0.1:" + address.rsplit(":", 1)[1]
            return _add_insecure_port(self, address)

        _server.Server.add_insecure_port = _loopback_add_insecure_port
    except Exception:  # noqa: BLE001 - never break a Ray process over a hardening hook
        pass
