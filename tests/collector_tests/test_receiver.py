"""The service over real sockets: OTLP from opentelemetry-sdk's own exporters (HTTP and gRPC),
OTLP/JSON, compression, and every refusal answered with a 4xx and a reason."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from prometheus_client.parser import text_string_to_metric_families

from collector.service import Service, Settings
from collector.spans import SpanContextConfig

from .fixtures import TRACE_CAPTURES, attribute, capture_requests, llm_request_spans

TTFT = "gen_ai_server_time_to_first_token_seconds"


@pytest.fixture
def service() -> Iterator[Service]:
    settings = Settings(host="127.0.0.1", http_port=0, grpc_port=0, spans=SpanContextConfig(default_model="tiny"))
    with Service(settings) as svc:
        yield svc


def scrape(svc: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{svc.http_port}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


def send_spans_with_sdk(exporter: SpanExporter, tenant: str) -> list[float]:
    """Replays the real spans' attributes through the SDK, as vLLM's own tracer does."""
    provider = TracerProvider(resource=Resource({"service.name": "vllm", "llmslo.tenant": tenant,
                                                 "k8s.namespace.name": "llm", "k8s.pod.name": "vllm-0"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("vllm.tracing.otel")
    ttfts = []
    for real in llm_request_spans():
        span = tracer.start_span("llm_request", start_time=real.start_time_unix_nano)
        for kv in real.attributes:
            which = kv.value.WhichOneof("value")
            span.set_attribute(kv.key, getattr(kv.value, which))
        span.end(end_time=real.end_time_unix_nano)
        ttfts.append(attribute(real, "gen_ai.latency.time_to_first_token"))
    provider.shutdown()
    return ttfts


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_spans_from_the_sdk_are_derived(service: Service, transport: str) -> None:
    exporter: SpanExporter = (
        HttpSpanExporter(endpoint=f"http://127.0.0.1:{service.http_port}/v1/traces") if transport == "http"
        else GrpcSpanExporter(endpoint=f"127.0.0.1:{service.grpc_port}", insecure=True)
    )
    ttfts = send_spans_with_sdk(exporter, "team-a")
    samples = scrape(service)
    labels = {"model_name": "tiny", "tenant": "team-a", "namespace": "llm", "pod": "vllm-0"}
    assert value(samples, f"{TTFT}_count", **labels) == len(ttfts)
    assert value(samples, f"{TTFT}_sum", **labels) == sum(ttfts)


def _sdk_meter(
    exporter: HttpMetricExporter | GrpcMetricExporter,
) -> tuple[MeterProvider, PeriodicExportingMetricReader]:
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=Resource({
        "service.name": "llmslo-exporter-vllm", "k8s.namespace.name": "llm", "k8s.pod.name": "vllm-0"}))
    return provider, reader


@pytest.mark.parametrize("transport", ["http", "grpc"])
@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_metrics_from_the_sdk_are_mapped(service: Service, transport: str, temporality: AggregationTemporality) -> None:
    preferred = {Histogram: temporality}
    exporter = (
        HttpMetricExporter(endpoint=f"http://127.0.0.1:{service.http_port}/v1/metrics",
                           preferred_temporality=preferred)
        if transport == "http"
        else GrpcMetricExporter(endpoint=f"127.0.0.1:{service.grpc_port}", insecure=True,
                                preferred_temporality=preferred)
    )
    provider, reader = _sdk_meter(exporter)
    meter = provider.get_meter("llmslo.exporters")
    # A canonical SLI as the sidecars push it, with the SDK's default (off-grid) boundaries.
    ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
    gpu = meter.create_gauge("DCGM_FI_DEV_GPU_UTIL")
    observed = [0.02, 0.3, 7.0]
    for v in observed[:2]:
        ttft.record(v, {"model_name": "tiny"})
    gpu.set(42, {"gpu": "0", "UUID": "GPU-1", "pod": "vllm-0", "namespace": "llm"})
    reader.force_flush()
    ttft.record(observed[2], {"model_name": "tiny"})
    reader.force_flush()
    provider.shutdown()
    samples = scrape(service)
    assert value(samples, f"{TTFT}_count", model_name="tiny", pod="vllm-0") == 3
    assert value(samples, f"{TTFT}_sum", model_name="tiny", pod="vllm-0") == sum(observed)
    # SDK boundaries 0,5,10,25,...: 5 and 10 are on the canonical grid and kept, 0 and 25 are not
    assert value(samples, f"{TTFT}_bucket", model_name="tiny", le="5.0") == 2
    assert value(samples, f"{TTFT}_bucket", model_name="tiny", le="10.0") == 3
    assert not [k for k in samples if k[0] == f"{TTFT}_bucket" and ("le", "25.0") in k[1]]
    assert value(samples, "llmslo_gpu_utilization_ratio", UUID="GPU-1") == pytest.approx(0.42)


def post(svc: Service, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{svc.http_port}{path}", content=body,
                      headers={"Content-Type": content_type, **headers})


def otlp_json_of_capture() -> bytes:
    _, request = capture_requests()[-1]
    doc = json_format.MessageToDict(request)
    # OTLP/JSON: ids are hex, not base64 (the spec's one deviation from proto3 JSON)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(doc).encode()


def test_otlp_json_with_hex_ids_and_gzip(service: Service) -> None:
    body = gzip.compress(otlp_json_of_capture())
    reply = post(service, "/v1/traces", body, "application/json", **{"Content-Encoding": "gzip"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json() == {}
    spans = list(llm_request_spans())
    om = httpx.get(f"http://127.0.0.1:{service.http_port}/metrics",
                   headers={"Accept": "application/openmetrics-text"}).text
    assert any(s.trace_id.hex() in om for s in spans), "exemplars carry the hex trace ids of the JSON spans"
    assert value(scrape(service), f"{TTFT}_count", model_name="tiny") == len(spans)


def test_partial_success_reports_rejected_spans(service: Service) -> None:
    _, traces = capture_requests()[-1]
    spans = traces.resource_spans[0].scope_spans[0].spans
    for kv in spans[0].attributes:
        if kv.key == "gen_ai.latency.e2e":
            kv.value.string_value = "slow"
    reply = post(service, "/v1/traces", traces.SerializeToString(), "application/x-protobuf")
    assert reply.status_code == 200
    response = ExportTraceServiceResponse.FromString(reply.content)
    assert response.partial_success.rejected_spans == 1
    assert "gen_ai.latency.e2e" in response.partial_success.error_message
    assert value(scrape(service), f"{TTFT}_count", model_name="tiny") == len(spans) - 1


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers", "status", "reason"),
    [
        pytest.param("/v1/traces", b"\xff\xff\xff", "application/x-protobuf", {}, 400, "cannot decode", id="garbage"),
        pytest.param("/v1/metrics", b"{not json", "application/json", {}, 400, "cannot decode", id="bad-json"),
        pytest.param("/v1/traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
                     "application/json", {}, 400, "hex", id="bad-hex-id"),
        pytest.param("/v1/traces", b"[]", "application/json", {}, 400, "object", id="json-array"),
        pytest.param("/v1/traces", b"x", "text/plain", {}, 415, "unsupported content type", id="content-type"),
        pytest.param("/v1/traces", b"x", "application/x-protobuf", {"Content-Encoding": "gzip"}, 400, "decompress",
                     id="bad-gzip"),
        pytest.param("/v1/traces", b"x", "application/x-protobuf", {"Content-Encoding": "br"}, 400, "Content-Encoding",
                     id="brotli"),
        pytest.param("/v1/logs", b"", "application/x-protobuf", {}, 404, "not found", id="logs"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(
    service: Service, path: str, body: bytes, content_type: str, headers: dict[str, str], status: int, reason: str
) -> None:
    reply = post(service, path, body, content_type, **headers)
    assert reply.status_code == status
    assert reason in reply.content.decode("utf-8", "replace")


def test_oversized_bodies_are_refused_unread() -> None:
    settings = Settings(host="127.0.0.1", http_port=0, grpc_port=None, max_body=1024)
    with Service(settings) as svc:
        reply = post(svc, "/v1/traces", b"\0" * 4096, "application/x-protobuf")
        assert reply.status_code == 413
        bomb = gzip.compress(b"\0" * 100_000)
        assert len(bomb) < 1024
        reply = post(svc, "/v1/traces", bomb, "application/x-protobuf", **{"Content-Encoding": "gzip"})
        assert reply.status_code == 413
        assert value(scrape(svc), "llmslo_collector_requests_refused_total", reason="too_large") == 2


def test_overload_is_answered_429_with_retry_after(service: Service) -> None:
    held = [service.receiver.try_enter() for _ in range(service.settings.max_inflight)]
    assert all(held)
    try:
        reply = post(service, "/v1/traces", TRACE_CAPTURES[-1].read_bytes(), "application/x-protobuf")
        assert reply.status_code == 429 and reply.headers["retry-after"] == "1"
    finally:
        for _ in held:
            service.receiver.leave()
    reply = post(service, "/v1/traces", TRACE_CAPTURES[-1].read_bytes(), "application/x-protobuf")
    assert reply.status_code == 200


def test_grpc_garbage_is_invalid_argument(service: Service) -> None:
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as info:
            call(b"\xff\xff\xff", timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot decode" in info.value.details()
