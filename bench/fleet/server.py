"""Serve a whole simulated fleet from one process: the I/O edge around `Fleet`.

One port, one path per pod, so a single Prometheus job scrapes every pod (the per-target
`__metrics_path__` label picks the path; see `prometheus_targets`):

    /pod/<i>/metrics   the pod's vLLM 0.32 /metrics
    /pod/<i>/sidecar   what llmslo's vLLM sidecar would serve for that pod: the same in-process
                       `exporters.sidecar.Sidecar` the real sidecar runs, fed the pod's body
    /targets           the Prometheus static_configs for every pod (JSON)
    /spans             the `llm_request` spans finished since the last call (OTLP protobuf)

Simulated time is wall time (`clock()`), so Prometheus' timestamps and the series agree. A pod
advances only when it is scraped; it is deterministic whatever the scrape pattern.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.fleet.fleet import Fleet
from bench.fleet.spans import export_request
from exporters.pipeline import VLLM, Processed, process
from exporters.sidecar import Sidecar

EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
_PATH = re.compile(r"^/pod/(\d+)/(metrics|sidecar)$")

logger = logging.getLogger("llmslo.fleet")


class FleetServer:
    def __init__(self, fleet: Fleet, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.fleet = fleet
        self.clock = clock
        self._locks = [threading.Lock() for _ in fleet.pods]
        self._bodies: list[str] = ["" for _ in fleet.pods]
        self._sidecars = [self._make_sidecar(i) for i in range(len(fleet.pods))]
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{host!s}:{port}"

    def _make_sidecar(self, pod: int) -> Sidecar:
        def collect() -> Processed:
            return process(self._bodies[pod], VLLM)

        return Sidecar("vllm", collect, target=f"pod/{pod}", min_interval=0.0)

    def metrics(self, pod: int) -> str:
        with self._locks[pod]:
            body = self.fleet.metrics(pod, max(self.clock(), self.fleet.engines[pod].now))
            self._bodies[pod] = body
            return body

    def sidecar(self, pod: int) -> str:
        with self._locks[pod]:
            self._bodies[pod] = self.fleet.metrics(pod, max(self.clock(), self.fleet.engines[pod].now))
            return self._sidecars[pod].render()

    def spans(self) -> bytes:
        batches = []
        for i, pod in enumerate(self.fleet.pods):
            with self._locks[i]:
                batches.append((pod, self.fleet.drain(i)))
        data: bytes = export_request(batches).SerializeToString()
        return data

    def prometheus_targets(self, path: str = "metrics") -> list[dict[str, Any]]:
        return [
            {"targets": [self.address],
             "labels": {"__metrics_path__": f"/pod/{i}/{path}", "pod": pod.name,
                        "namespace": self.fleet.spec.namespace}}
            for i, pod in enumerate(self.fleet.pods)
        ]

    def start(self) -> FleetServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fleet-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FleetServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: FleetServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                match = _PATH.match(path)
                if match:
                    pod = int(match[1])
                    if pod >= len(server.fleet.pods):
                        last = len(server.fleet.pods) - 1
                        self._send(HTTPStatus.NOT_FOUND, f"no pod {pod}: the fleet has pods 0..{last}\n")
                        return
                    body = server.metrics(pod) if match[2] == "metrics" else server.sidecar(pod)
                    self._send(HTTPStatus.OK, body, EXPOSITION)
                elif path == "/targets":
                    self._send(HTTPStatus.OK, json.dumps(server.prometheus_targets()), "application/json")
                elif path == "/spans":
                    self._send_bytes(HTTPStatus.OK, server.spans(), "application/x-protobuf")
                else:
                    self._send(HTTPStatus.NOT_FOUND, f"unknown path {path!r}: try /pod/<i>/metrics, /pod/<i>/sidecar,"
                                                     " /targets or /spans\n")
            except Exception:  # an answer, never a dropped connection
                logger.exception("fleet server error on %s", path)
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; see the fleet server log\n")

        def _send(self, status: HTTPStatus, text: str, ctype: str = "text/plain; charset=utf-8") -> None:
            self._send_bytes(status, text.encode(), ctype)

        def _send_bytes(self, status: HTTPStatus, data: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
