"""Alertmanager's webhook receiver for the demo: records every notification it gets (a pager, in effect)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Notification:
    received: float  # unix seconds
    status: str  # firing | resolved (of the group)
    alerts: tuple[dict[str, Any], ...]


@dataclass
class WebhookSink:
    notifications: list[Notification] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length))
                    note = Notification(time.time(), str(body.get("status", "")), tuple(body.get("alerts", ())))
                except (ValueError, AttributeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                with sink._lock:
                    sink.notifications.append(note)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def events(self) -> list[tuple[float, str, str, str]]:
        """(time, alertname, severity, status) per alert per notification, in arrival order."""
        with self._lock:
            return [
                (n.received, str(a.get("labels", {}).get("alertname", "")),
                 str(a.get("labels", {}).get("severity", "")), str(a.get("status", "")))
                for n in self.notifications for a in n.alerts
            ]
