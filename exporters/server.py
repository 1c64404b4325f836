"""A minimal HTTP front for a sidecar: GET /metrics and /healthz, nothing else.

The standard library's threading server is enough for a handful of scrapers and costs no CPU
when idle; each request is isolated so a slow scraper does not block another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger("llmslo.exporter.http")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def make_server(host: str, port: int, render: Callable[[], str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "llmslo-exporter"
        sys_version = ""
        # Keep-alive: Prometheus reuses its connection, so a scrape costs no new thread or socket.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body = render().encode("utf-8")
                except Exception:  # never answer a scrape with a dropped connection
                    logger.exception("rendering /metrics failed")
                    self._send(500, b"internal error; see the exporter log\n", "text/plain")
                    return
                self._send(200, body, CONTENT_TYPE)
            elif path in ("/healthz", "/livez", "/readyz"):
                self._send(200, b"ok\n", "text/plain")
            else:
                self._send(404, b"not found: try /metrics\n", "text/plain")

        def do_HEAD(self) -> None:
            self._send(405, b"", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="llmslo-exporter-http", daemon=True)
    thread.start()
    return thread
