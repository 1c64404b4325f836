"""Shared builders for the collector tests: the real captured vLLM spans, and stores with pinned clocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from support.captures import VLLM_032

from collector.goodput import GoodputSLO
from collector.metrics_in import MetricIngest
from collector.receiver import Receiver
from collector.spans import SpanContextConfig
from collector.store import Limits, Store
from collector.traces import TraceIngest

TRACE_CAPTURES = sorted(VLLM_032.glob("traces-*.bin"))
# The captures came from a server started with --served-model-name tiny; vLLM's span has no model.
SPAN_CONFIG = SpanContextConfig(default_model="tiny")
CHAT_SLO = GoodputSLO("chat-interactive", (("tpot", 0.05), ("ttft", 0.5)))
STRICT_SLO = GoodputSLO("strict", (("e2e", 0.04), ("ttft", 0.02)))


def capture_requests() -> list[tuple[Path, ExportTraceServiceRequest]]:
    if not TRACE_CAPTURES:
        raise FileNotFoundError(f"no traces-*.bin under {VLLM_032}")
    out = []
    for path in TRACE_CAPTURES:
        request = ExportTraceServiceRequest()
        request.ParseFromString(path.read_bytes())
        out.append((path, request))
    return out


def llm_request_spans() -> Iterator[Span]:
    for _, request in capture_requests():
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if span.name == "llm_request":
                        yield span


def pinned_store(limits: Limits | None = None, goodput: tuple[GoodputSLO, ...] = (CHAT_SLO, STRICT_SLO)) -> Store:
    return Store(limits or Limits(), goodput, wall_ns=lambda: 1_700_000_000_000_000_000, monotonic=lambda: 0.0)


def receiver_for(store: Store, config: SpanContextConfig = SPAN_CONFIG, **kwargs: int) -> Receiver:
    return Receiver(store, TraceIngest(store, config), MetricIngest(store), **kwargs)


def attribute(span: Span, key: str) -> float:
    for kv in span.attributes:
        if kv.key == key:
            which = kv.value.WhichOneof("value")
            return float(getattr(kv.value, which))
    raise KeyError(key)
