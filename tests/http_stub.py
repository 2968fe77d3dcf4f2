"""A real HTTP server on 127.0.0.1 for tests, answering with a function: (status, body, content type), or None
to drop the connection without an answer (the process behind it gone). Keep-alive, as requests.Session uses it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def http_server(answer: Callable[[BaseHTTPRequestHandler], tuple[int, bytes, str] | None]) -> ThreadingHTTPServer:
    """Started and serving; the caller shuts it down (``shutdown()``, ``server_close()``)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self):
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found = answer(self)
            if found is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, body, kind = found
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_DELETE = _reply

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def serving(answer: Callable[[BaseHTTPRequestHandler], tuple[int, bytes, str] | None]) -> Iterator[str]:
    """``with serving(answer) as url:`` a server answering with ``answer`` at ``url``, stopped after."""
    server = http_server(answer)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
