"""/metrics on its own port: Prometheus text 0.0.4, or OpenMetrics with exemplars when asked.

A thread with the standard library's server, as the other sidecars use: a scrape never waits on
the proxy's event loop, and the loop never renders text. The recorder is safe to read from here.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exporters.proxy.exposition import write_openmetrics
from exporters.proxy.recorder import Recorder
from slo.metrics.write import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, wants_openmetrics, write_exposition

logger = logging.getLogger("llmslo.proxy.metrics")


def render(recorder: Recorder, accept: str) -> tuple[bytes, str]:
    families, exemplars = recorder.collect()
    if wants_openmetrics(accept):
        return write_openmetrics(families, exemplars).encode(), OPENMETRICS_CONTENT_TYPE
    return write_exposition(families).encode(), TEXT_CONTENT_TYPE


def make_metrics_server(host: str, port: int, recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "llmslo-proxy"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body, content_type = render(recorder, self.headers.get("Accept", ""))
                except Exception:
                    logger.exception("rendering /metrics failed")
                    self._send(500, b"internal error; see the proxy log\n", "text/plain")
                    return
                self._send(200, body, content_type)
            elif path in ("/healthz", "/livez", "/readyz"):
                self._send(200, b"ok\n", "text/plain")
            else:
                self._send(404, b"not found: try /metrics\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="llmslo-proxy-metrics", daemon=True)
    thread.start()
    return thread
