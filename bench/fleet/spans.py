"""Finished requests -> vLLM 0.32 `llm_request` spans as an OTLP ExportTraceServiceRequest. Pure.

Shape copied from the real export (shared/fixtures/vllm-0.32-cpu/traces-5.bin): one ResourceSpans
per process with the SDK's resource attributes plus `vllm.instrumenting_module_name` and
`vllm.process_id` (a string, as vLLM sets it), scope `vllm.tracing.otel` without a version, kind
SERVER, no parent, flags 0x100, an unset status, and the attributes in `do_tracing`'s order. As in
vLLM, `temperature`, `top_p`, `max_tokens` and `n` are left out when falsy, and aborted requests get
no span (vLLM only traces requests that finish through the output processor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from bench.fleet.engine import SimRequest
from bench.fleet.workload import PodSpec

SPAN_NAME: Final = "llm_request"
SCOPE: Final = "vllm.tracing.otel"
SDK_VERSION: Final = "1.45.2"  # what the captured vLLM 0.32 environment had
SPAN_FLAGS: Final = 0x100  # W3C flags 0 plus "has remote-parent info", as the SDK sets it


def _kv(key: str, value: str | int | float) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def resource_attributes(pod: PodSpec, service_name: str = "unknown_service:python",
                        namespace: str | None = None) -> list[KeyValue]:
    """vLLM's own resource attributes; with `namespace`, also the `k8s.namespace.name` and
    `k8s.pod.name` that otelcol's k8sattributes processor adds on the way to llmslo's collector."""
    attrs = [
        _kv("telemetry.sdk.language", "python"),
        _kv("telemetry.sdk.name", "opentelemetry"),
        _kv("telemetry.sdk.version", SDK_VERSION),
        _kv("service.instance.id", pod.instance_id),
        _kv("vllm.instrumenting_module_name", "vllm.llm_engine"),
        _kv("vllm.process_id", str(pod.pid)),
        _kv("service.name", service_name),
    ]
    if namespace is not None:
        attrs += [_kv("k8s.namespace.name", namespace), _kv("k8s.pod.name", pod.name)]
    return attrs


def _ns(t: float) -> int:
    return int(t * 1e9)


def request_span(req: SimRequest) -> Span:
    attrs = [
        _kv("gen_ai.latency.time_to_first_token", req.ttft),
        _kv("gen_ai.latency.e2e", req.e2e),
        _kv("gen_ai.latency.time_in_queue", req.queue),
        _kv("gen_ai.usage.prompt_tokens", req.prompt_tokens),
        _kv("gen_ai.usage.completion_tokens", req.completion_tokens),
        _kv("gen_ai.latency.time_in_model_prefill", req.prefill),
        _kv("gen_ai.latency.time_in_model_decode", req.decode),
        _kv("gen_ai.latency.time_in_model_inference", req.inference),
        _kv("gen_ai.request.id", req.request_id),
    ]
    optional: Sequence[tuple[str, int | float]] = (
        ("gen_ai.request.top_p", req.top_p),
        ("gen_ai.request.max_tokens", req.max_tokens),
        ("gen_ai.request.temperature", req.temperature),
        ("gen_ai.request.n", 1),
    )
    attrs.extend(_kv(k, v) for k, v in optional if v)
    return Span(
        trace_id=req.trace_id,
        span_id=req.span_id,
        name=SPAN_NAME,
        kind=Span.SpanKind.SPAN_KIND_SERVER,
        start_time_unix_nano=_ns(req.arrival),
        end_time_unix_nano=_ns(req.finished),
        attributes=attrs,
        flags=SPAN_FLAGS,
    )


def export_request(batches: Iterable[tuple[PodSpec, Sequence[SimRequest]]],
                   service_name: str = "unknown_service:python",
                   namespace: str | None = None) -> ExportTraceServiceRequest:
    """One export carrying each pod's finished (not aborted) requests, as its BatchSpanProcessor
    would send them; pods with nothing to send are left out."""
    out = ExportTraceServiceRequest()
    for pod, requests in batches:
        spans = [request_span(r) for r in requests if not r.aborted]
        if not spans:
            continue
        out.resource_spans.append(ResourceSpans(
            resource=Resource(attributes=resource_attributes(pod, service_name, namespace)),
            scope_spans=[ScopeSpans(scope=InstrumentationScope(name=SCOPE), spans=spans)],
        ))
    return out
