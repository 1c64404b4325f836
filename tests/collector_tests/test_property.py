"""Property: whatever bytes arrive, valid, odd or corrupted, the receiver answers 2xx or 4xx with
a decodable body and never raises (the HTTP front would turn a raise into a 500)."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.receiver import JSON, PROTOBUF
from collector.store import Limits

from .fixtures import llm_request_spans, pinned_store, receiver_for

TEMPLATE = next(llm_request_spans())
KEYS = [kv.key for kv in TEMPLATE.attributes] + ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                                  "llmslo.tenant", "gen_ai.request.model"]
ALLOWED = {200, 400, 413, 415}

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**63), 2**63 - 1))
values = st.one_of(
    numbers.map(lambda v: ("double_value", float(v)) if isinstance(v, float) else ("int_value", v)),
    st.text(max_size=20).map(lambda v: ("string_value", v)),
    st.booleans().map(lambda v: ("bool_value", v)),
    st.binary(max_size=8).map(lambda v: ("bytes_value", v)),
    st.just(("", None)),
)


@st.composite
def span_requests(draw: st.DrawFn) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        rs = request.resource_spans.add()
        for key, (field, value) in draw(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=3)):
            kv = rs.resource.attributes.add(key=key)
            if field:
                setattr(kv.value, field, value)
        spans = rs.scope_spans.add().spans
        for _ in range(draw(st.integers(0, 4))):
            span = spans.add()
            span.CopyFrom(TEMPLATE)
            span.name = draw(st.sampled_from(["llm_request", "llm_request", "Load model", ""]))
            for key, (field, value) in draw(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=4)):
                kv = span.attributes.add(key=key)
                if field:
                    setattr(kv.value, field, value)
            if draw(st.booleans()):
                del span.attributes[: draw(st.integers(0, len(span.attributes)))]
    return request.SerializeToString()


@st.composite
def corrupted(draw: st.DrawFn, payload: st.SearchStrategy[bytes]) -> bytes:
    body = bytearray(draw(payload))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and body:
            i = draw(st.integers(0, len(body) - 1))
            body[i] ^= draw(st.integers(1, 255))
        elif op == "cut" and body:
            del body[draw(st.integers(0, len(body) - 1)):]
        else:
            i = draw(st.integers(0, len(body)))
            body[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


@st.composite
def metric_requests(draw: st.DrawFn) -> bytes:
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    names = ["vllm:time_to_first_token_seconds", "vllm:prompt_tokens", "vllm:prompt_tokens_total",
             "DCGM_FI_DEV_GPU_UTIL", "gen_ai.server.time_to_first_token", "llmslo_engine_requests_total", "other"]
    for _ in range(draw(st.integers(0, 4))):
        metric = metrics.add(name=draw(st.sampled_from(names)))
        kind = draw(st.sampled_from(["gauge", "sum", "histogram", "summary", "none"]))
        finite = st.floats(allow_nan=True, allow_infinity=True)
        if kind in ("gauge", "sum"):
            data = getattr(metric, kind)
            if kind == "sum":
                metric.sum.is_monotonic = draw(st.booleans())
                metric.sum.aggregation_temporality = draw(st.integers(0, 2))
            for _ in range(draw(st.integers(0, 3))):
                point = data.data_points.add(as_double=draw(finite), flags=draw(st.integers(0, 1)))
                point.attributes.add(key="model_name").value.string_value = draw(st.sampled_from(["a", "b"]))
        elif kind == "histogram":
            metric.histogram.aggregation_temporality = draw(st.integers(0, 2))
            for _ in range(draw(st.integers(0, 3))):
                bounds = draw(st.lists(finite, max_size=5))
                counts = draw(st.lists(st.integers(0, 10), min_size=0, max_size=7))
                point = metric.histogram.data_points.add(count=draw(st.sampled_from([sum(counts), 3])),
                                                         sum=draw(finite))
                point.explicit_bounds.extend(bounds)
                point.bucket_counts.extend(counts)
        elif kind == "summary":
            metric.summary.data_points.add(count=1, sum=1.0)
    return request.SerializeToString()


json_docs = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(["resourceSpans", "resourceMetrics", "scopeSpans",
                                                                "spans", "traceId", "attributes", "key", "value",
                                                                "doubleValue", "name", "x"]), children, max_size=3)),
    max_leaves=20,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _receiver():  # type: ignore[no-untyped-def]
    return receiver_for(pinned_store(Limits(max_series=50, overflow_series=5)))


def _check(reply, content_type: str) -> None:  # type: ignore[no-untyped-def]
    assert reply.status in ALLOWED, (reply.status, reply.body[:200])
    if reply.status == 200 and content_type == PROTOBUF:
        ExportTraceServiceResponse.FromString(reply.body)  # metrics' response has the same shape on the wire


@SETTINGS
@given(body=st.one_of(span_requests(), corrupted(span_requests())), as_json=st.booleans())
def test_trace_payloads_never_crash(body: bytes, as_json: bool) -> None:
    receiver = _receiver()
    if as_json:
        from google.protobuf import json_format

        try:
            request = ExportTraceServiceRequest.FromString(body)
        except Exception:
            reply = receiver.handle_http("/v1/traces", body, JSON)
        else:
            reply = receiver.handle_http("/v1/traces", json_format.MessageToJson(request).encode(), JSON)
        _check(reply, JSON)
        return
    _check(receiver.handle_http("/v1/traces", body, PROTOBUF), PROTOBUF)
    receiver.store.snapshot()  # rendering after any accepted input works too


@SETTINGS
@given(body=st.one_of(metric_requests(), corrupted(metric_requests())))
def test_metric_payloads_never_crash(body: bytes) -> None:
    receiver = _receiver()
    _check(receiver.handle_http("/v1/metrics", body, PROTOBUF), PROTOBUF)
    for metric in receiver.store.snapshot():
        for point in metric.points:
            assert not (hasattr(point, "count") and point.count < 0)


@SETTINGS
@given(doc=json_docs, path=st.sampled_from(["/v1/traces", "/v1/metrics"]))
def test_arbitrary_json_never_crashes(doc: object, path: str) -> None:
    _check(_receiver().handle_http(path, json.dumps(doc).encode(), JSON), JSON)


def test_valid_span_values_are_counted_exactly() -> None:
    """The properties above only check that nothing breaks; this pins that a valid random batch
    is accepted whole."""
    receiver = _receiver()
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    expected = 0.0
    for i in range(20):
        span: Span = spans.add()
        span.CopyFrom(TEMPLATE)
        for kv in span.attributes:
            if kv.key == "gen_ai.latency.time_to_first_token":
                kv.value.double_value = i / 7
                expected += i / 7
    reply = receiver.handle_http("/v1/traces", request.SerializeToString(), PROTOBUF)
    assert reply.status == 200 and reply.body == b""
    ttft = next(m for m in receiver.store.snapshot() if m.prom_name == "gen_ai_server_time_to_first_token_seconds")
    assert ttft.points[0].count == 20 and math.isclose(ttft.points[0].sum, expected)
