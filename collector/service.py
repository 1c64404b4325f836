"""Assemble and run the processor service: store, ingest, HTTP and gRPC fronts, OTLP forwarder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from collector.forward import Forwarder, make_exporter
from collector.goodput import GoodputSLO
from collector.grpc_front import make_grpc_server
from collector.http_front import make_http_server, serve_in_thread
from collector.metrics_in import MetricIngest
from collector.receiver import DEFAULT_MAX_BODY, Receiver
from collector.spans import SpanContextConfig
from collector.store import Limits, Store
from collector.traces import TraceIngest

logger = logging.getLogger("llmslo.collector")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "0.0.0.0"
    http_port: int = 4318
    grpc_port: int | None = 4317  # None: no gRPC front
    limits: Limits = field(default_factory=Limits)
    spans: SpanContextConfig = field(default_factory=SpanContextConfig)
    goodput: tuple[GoodputSLO, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    max_inflight: int = 4
    otlp_endpoint: str = ""
    otlp_protocol: str = "http/protobuf"
    otlp_interval: float = 15.0
    resource: tuple[tuple[str, str], ...] = (("service.name", "llmslo-collector"),)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.limits, settings.goodput)
        self.receiver = Receiver(
            self.store,
            TraceIngest(self.store, settings.spans),
            MetricIngest(self.store),
            max_body=settings.max_body,
            max_inflight=settings.max_inflight,
        )
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self._forwarder: Forwarder | None = None
        self.http_port = 0
        self.grpc_port = 0

    def start(self) -> None:
        s = self.settings
        self._http = make_http_server(s.host, s.http_port, self.receiver)
        self.http_port = int(self._http.server_address[1])
        serve_in_thread(self._http)
        if s.grpc_port is not None:
            self._grpc, self.grpc_port = make_grpc_server(s.host, s.grpc_port, self.receiver,
                                                          workers=max(2, s.max_inflight))
            self._grpc.start()
        if s.otlp_endpoint:
            self._forwarder = Forwarder(self.store.snapshot, make_exporter(s.otlp_endpoint, s.otlp_protocol),
                                        interval=s.otlp_interval, resource=dict(s.resource))
            self._forwarder.start()
        logger.info("OTLP/HTTP and /metrics on %s:%d, OTLP/gRPC on %s", s.host, self.http_port,
                    f"{s.host}:{self.grpc_port}" if self._grpc is not None else "(off)")

    def stop(self) -> None:
        if self._forwarder is not None:
            self._forwarder.shutdown()
            self._forwarder = None
        if self._grpc is not None:
            self._grpc.stop(grace=1.0).wait()
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
