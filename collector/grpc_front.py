"""The OTLP/gRPC front (TraceService/Export, MetricsService/Export).

Requests arrive as raw bytes (no deserializer registered) and are decoded by the receiver, so a
malformed message is INVALID_ARGUMENT with a reason rather than grpcio's generic INTERNAL. When
every processing slot is busy the call fails with UNAVAILABLE, which OTLP clients retry with
backoff; grpcio's `maximum_concurrent_rpcs` bounds the calls waiting for a thread.
"""

from __future__ import annotations

import importlib
from concurrent import futures
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.receiver import PROTOBUF, BadPayload, Receiver, decode

# grpcio ships no type stubs; see receiver.py for why the import is dynamic.
grpc: Any = importlib.import_module("grpc")

TRACE_SERVICE: Final = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE: Final = "opentelemetry.proto.collector.metrics.v1.MetricsService"


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def make_grpc_server(host: str, port: int, receiver: Receiver, *, workers: int = 4) -> tuple[Any, int]:
    """A started-later grpc.Server and the port it bound (port 0 picks a free one)."""

    def traces(raw: bytes, context: Any) -> Any:
        request = ExportTraceServiceRequest()
        _enter(raw, request, context)
        del request  # decoded to validate only; the ingest reads `raw` (see Receiver._http_traces)
        try:
            return receiver.ingest_traces(raw)
        finally:
            receiver.leave()

    def metrics(raw: bytes, context: Any) -> Any:
        request = ExportMetricsServiceRequest()
        _enter(raw, request, context)
        try:
            return receiver.export_metrics(request)
        finally:
            receiver.leave()

    def _enter(raw: bytes, request: Any, context: Any) -> None:
        if len(raw) > receiver.max_body:
            receiver.refused("too_large")
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"message larger than {receiver.max_body} bytes")
        try:
            decode(request, raw, PROTOBUF)
        except BadPayload as exc:
            receiver.refused("bad_payload")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if not receiver.try_enter():
            receiver.refused("overloaded")
            context.abort(grpc.StatusCode.UNAVAILABLE, "overloaded; retry later")

    def handler(fn: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=None, response_serializer=_serialize)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llmslo-collector-grpc"),
        maximum_concurrent_rpcs=workers * 4,
        options=[("grpc.max_receive_message_length", receiver.max_body + 1024)],
    )
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(TRACE_SERVICE, {"Export": handler(traces)}),
        grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Export": handler(metrics)}),
    ))
    bound = int(server.add_insecure_port(f"{host}:{port}"))
    if bound == 0:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    return server, bound
