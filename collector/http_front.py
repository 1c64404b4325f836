"""The HTTP front: OTLP/HTTP in (`POST /v1/traces`, `/v1/metrics`), Prometheus out (`GET /metrics`).

The standard library's threading server: a thread per connection, keep-alive so an exporter
reuses its connection, and no queue of its own. Work is bounded by the receiver's slots (429 when
all are busy) and by the body limit (413, read no further), so a flood costs a refusal, not
memory.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from collector.exposition import render_openmetrics, render_text
from collector.receiver import Receiver, Reply
from slo.metrics.write import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, wants_openmetrics

logger = logging.getLogger("llmslo.collector.http")


def make_http_server(host: str, port: int, receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "llmslo-collector"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length_text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length_text is None:
                self.close_connection = True
                self._send(Reply(411, "text/plain", b"Content-Length required\n"))
                return
            try:
                length = int(length_text)
                if length < 0:
                    raise ValueError
            except ValueError:
                self.close_connection = True
                self._send(Reply(400, "text/plain", b"invalid Content-Length\n"))
                return
            if length > receiver.max_body:
                receiver.refused("too_large")
                self.close_connection = True  # the body is not read, so the connection cannot be reused
                self._send(Reply(413, "text/plain", f"body larger than {receiver.max_body} bytes\n".encode()))
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self.close_connection = True
                return
            try:
                reply = receiver.handle_http(
                    path, body, self.headers.get("Content-Type", ""), self.headers.get("Content-Encoding", "")
                )
            except Exception:  # a bug here must not drop the connection without an answer
                logger.exception("internal error handling POST %s", path)
                reply = Reply(500, "text/plain", b"internal error; see the collector log\n")
            self._send(reply)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                snapshot = receiver.store.snapshot()
                if wants_openmetrics(self.headers.get("Accept", "")):
                    self._send(Reply(200, OPENMETRICS_CONTENT_TYPE, render_openmetrics(snapshot).encode()))
                else:
                    self._send(Reply(200, TEXT_CONTENT_TYPE, render_text(snapshot).encode()))
            elif path in ("/healthz", "/livez", "/readyz"):
                self._send(Reply(200, "text/plain", b"ok\n"))
            else:
                self._send(Reply(404, "text/plain", b"not found: try /metrics, POST /v1/traces or /v1/metrics\n"))

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="llmslo-collector-http", daemon=True)
    thread.start()
    return thread
