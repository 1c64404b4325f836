"""The OTLP receiver core, transport-free: request bytes in, reply out.

OTLP/HTTP (spec 1.x, "OTLP/HTTP"): POST `/v1/traces` or `/v1/metrics` with a binary protobuf
(`application/x-protobuf`) or JSON (`application/json`) body, optionally gzip-compressed. The
reply has the request's content type. A body that cannot be decoded gets 400 with a
`google.rpc.Status` saying why; items that decode but cannot be used are reported in the 200
reply's `partial_success`, as the spec requires. Overload is answered with 429 and `Retry-After`
(retryable) instead of queueing: nothing waits in an unbounded queue.

OTLP/JSON differs from protobuf's canonical JSON in one way that matters: trace and span ids are
hex strings, not base64. They are converted before `json_format` parses the message.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collector.metrics_in import MetricIngest
from collector.store import Store
from collector.traces import IngestResult, TraceIngest

logger = logging.getLogger("llmslo.collector")

# google.protobuf and googleapis-common-protos ship no type stubs; imported dynamically so that
# strict mypy sees them as what they are to us (untyped) with or without types-protobuf installed.
json_format: Any = importlib.import_module("google.protobuf.json_format")
Status: Any = importlib.import_module("google.rpc.status_pb2").Status
Message = Any

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
TRACES_PATH: Final = "/v1/traces"
METRICS_PATH: Final = "/v1/metrics"
DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024
_ID_KEYS: Final = frozenset(("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"))
_INVALID_ARGUMENT: Final = 3


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class BadPayload(ValueError):
    """The body cannot be decoded as the OTLP message it claims to be; the message says why."""


def _hex_ids(node: Any) -> Any:
    """OTLP/JSON hex ids -> the base64 `json_format` expects, everywhere in the document."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                except ValueError:
                    raise BadPayload(f"{key} has value {value[:40]!r}. Must be a hex string.") from None
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def decode(message: Message, body: bytes, content_type: str) -> None:
    """Fill `message` from `body`. Raises BadPayload."""
    try:
        if content_type == JSON:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise BadPayload("the JSON body must be an object")
            json_format.ParseDict(_hex_ids(doc), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except BadPayload:
        raise
    except RecursionError:
        raise BadPayload("the message is nested too deeply") from None
    except Exception as exc:  # every decoder failure is the payload's fault, never ours: 400
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BadPayload(f"cannot decode {message.DESCRIPTOR.name} as {content_type}: {text}") from None


def _media_type(header: str) -> str | None:
    media = header.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if media == JSON:
        return JSON
    return None


def _encode(message: Message, content_type: str) -> bytes:
    if content_type == JSON:
        return str(json_format.MessageToJson(message, indent=None)).encode("utf-8")
    return bytes(message.SerializeToString())


class Receiver:
    """Decodes and dispatches OTLP exports; shared by the HTTP and gRPC fronts."""

    def __init__(
        self,
        store: Store,
        traces: TraceIngest,
        metrics: MetricIngest,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        max_inflight: int = 4,
    ) -> None:
        self.store = store
        self.traces = traces
        self.metrics = metrics
        self.max_body = max_body
        self._slots = threading.BoundedSemaphore(max_inflight)

    # -- shared by both fronts ---------------------------------------------------------------

    def try_enter(self) -> bool:
        """Claim a processing slot without waiting; False means overloaded (answer retryable)."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()

    def refused(self, reason: str) -> None:
        with self.store.lock:
            refused = self.store.counts.refused
            refused[reason] = refused.get(reason, 0) + 1

    def export_traces(self, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
        return self.ingest_traces(request.SerializeToString())

    def ingest_traces(self, raw: bytes) -> ExportTraceServiceResponse:
        """`raw`: an encoded ExportTraceServiceRequest that decoded cleanly."""
        result = self.traces.ingest(raw)
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.message
        return response

    def export_metrics(self, request: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse:
        result = self.metrics.ingest(request)
        response = ExportMetricsServiceResponse()
        if result.rejected:
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = result.message
        return response

    # -- OTLP/HTTP ---------------------------------------------------------------------------

    def handle_http(self, path: str, body: bytes, content_type: str, content_encoding: str = "") -> Reply:
        handler: Callable[[bytes, str], Reply]
        if path == TRACES_PATH:
            handler = self._http_traces
        elif path == METRICS_PATH:
            handler = self._http_metrics
        else:
            return Reply(404, "text/plain", f"not found: {path[:100]}; OTLP paths are /v1/traces and /v1/metrics\n"
                         .encode())
        media = _media_type(content_type)
        if media is None:
            self.refused("content_type")
            return Reply(415, "text/plain",
                         f"unsupported content type {content_type[:100]!r}; use {PROTOBUF} or {JSON}\n".encode())
        try:
            raw = self._decompress(body, content_encoding.strip().lower())
        except BadPayload as exc:
            return self._bad(media, str(exc))
        except _TooLarge:
            self.refused("too_large")
            return self._status(413, media, f"body larger than {self.max_body} bytes after decompression")
        if not self.try_enter():
            self.refused("overloaded")
            return Reply(429, "text/plain", b"overloaded; retry later\n", (("Retry-After", "1"),))
        try:
            return handler(raw, media)
        finally:
            self.leave()

    def _decompress(self, body: bytes, encoding: str) -> bytes:
        if len(body) > self.max_body:
            raise _TooLarge
        if encoding in ("", "identity"):
            return body
        if encoding not in ("gzip", "deflate"):
            raise BadPayload(f"unsupported Content-Encoding {encoding[:40]!r}; use gzip or none")
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        try:
            out = inflater.decompress(body, self.max_body + 1)
        except zlib.error as exc:
            raise BadPayload(f"cannot decompress the {encoding} body: {exc}") from None
        if len(out) > self.max_body or inflater.unconsumed_tail:
            raise _TooLarge
        if not inflater.eof:
            raise BadPayload(f"cannot decompress the {encoding} body: it is truncated")
        return out

    def _http_traces(self, raw: bytes, media: str) -> Reply:
        request = ExportTraceServiceRequest()
        try:
            decode(request, raw, media)
        except BadPayload as exc:
            return self._bad(media, str(exc))
        if media != PROTOBUF:
            return self._ok(media, self.export_traces(request))
        # Decoded only to validate: the ingest reads the bytes. Freed first, so its arena (as large as
        # the body, several times over) is not held while the ingest allocates; that measurably
        # slowed both.
        del request
        return self._ok(media, self.ingest_traces(raw))

    def _http_metrics(self, raw: bytes, media: str) -> Reply:
        request = ExportMetricsServiceRequest()
        try:
            decode(request, raw, media)
        except BadPayload as exc:
            return self._bad(media, str(exc))
        return self._ok(media, self.export_metrics(request))

    @staticmethod
    def _ok(media: str, response: Message) -> Reply:
        return Reply(200, media, _encode(response, media))

    def _bad(self, media: str, message: str) -> Reply:
        self.refused("bad_payload")
        return self._status(400, media, message)

    @staticmethod
    def _status(code: int, media: str, message: str) -> Reply:
        return Reply(code, media, _encode(Status(code=_INVALID_ARGUMENT, message=message), media))


class _TooLarge(Exception):
    pass


__all__ = ["BadPayload", "IngestResult", "Receiver", "Reply", "decode"]
