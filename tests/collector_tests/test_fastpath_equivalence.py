"""Property: the span fast paths give exactly what the full-decode path gives, one observation
at a time: the same replies, the same partial-success messages, the same snapshot down to value
types and exemplars. Both fast paths are checked: the C reader and aggregation
(collector.speedups, `native`) and the pure-Python one (learnt layouts, collector.fastspans, and
the store's batched aggregation), which machines without a C compiler run.

Spans are built with the opentelemetry.proto messages from a few random layouts (so a layout
learnt from one span is matched by later spans with other values): missing attributes, both
GenAI spellings, odd value types (bools, bytes, arrays, ints for latencies, doubles for tokens,
negative, NaN, infinite, huge), long strings, parents, events, other span names, several
resource and scope spans. Corrupted bodies must get the same 400 from both.
"""

from __future__ import annotations

import math
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

import collector.store as store_module
from collector import speedups
from collector.metrics_in import MetricIngest
from collector.receiver import PROTOBUF, Receiver
from collector.spans import SpanContextConfig
from collector.store import Limits, Store
from collector.traces import TraceIngest

from .fixtures import CHAT_SLO, STRICT_SLO, capture_requests, llm_request_spans

TEMPLATE = next(llm_request_spans())
READ = [kv.key for kv in TEMPLATE.attributes if kv.key.startswith(("gen_ai.latency", "gen_ai.usage"))]
KEYS = [
    *READ, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",  # the current GenAI spellings
    "llmslo.tenant", "tenant", "gen_ai.request.model", "gen_ai.response.model", "llmslo.model_name",
    "gen_ai.request.id", "gen_ai.request.top_p", "other.attribute",
]
CONFIG = SpanContextConfig(default_model="tiny")
KINDS = ["double", "double", "double", "int", "int", "string", "bool", "bytes", "array", "none"]
LIMITS = Limits(max_series=4, overflow_series=2, max_tenants=3)

doubles = st.one_of(
    st.floats(0, 100, allow_nan=False), st.floats(0, 100, allow_nan=False),
    st.sampled_from([0.0, -0.0, -1.0, math.nan, math.inf, 1e308, 2.5]),
)
ints = st.one_of(st.integers(0, 300), st.integers(0, 300), st.integers(-(2**63), 2**63 - 1), st.just(2**21))
texts = st.one_of(st.sampled_from(["", "t1", "t2", "model-a", "tenant-long-" + "x" * 130]), st.text(max_size=12))


def _set(value: AnyValue, kind: str, draw: st.DrawFn) -> None:
    if kind == "double":
        value.double_value = draw(doubles)
    elif kind == "int":
        value.int_value = draw(ints)
    elif kind == "string":
        value.string_value = draw(texts)
    elif kind == "bool":
        value.bool_value = draw(st.booleans())
    elif kind == "bytes":
        value.bytes_value = draw(st.binary(max_size=4))
    elif kind == "array":
        value.array_value.values.add().double_value = 1.0


layouts = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(KINDS)), min_size=1, max_size=10)
resource_keys = st.sampled_from(["llmslo.tenant", "gen_ai.request.model", "k8s.namespace.name", "k8s.pod.name",
                                 "tenant", "service.name"])


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """One export request whose spans follow one of a few layouts, or copy a real vLLM span."""
    shapes = draw(st.lists(layouts, min_size=1, max_size=3))
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        rs = request.resource_spans.add()
        for key in draw(st.lists(resource_keys, max_size=3)):
            rs.resource.attributes.add(key=key).value.string_value = draw(st.sampled_from(["ns", "pod-1", "t3", ""]))
        for _ in range(draw(st.integers(1, 2))):
            spans = rs.scope_spans.add().spans
            for _ in range(draw(st.integers(0, 6))):
                span: Span = spans.add()
                span.CopyFrom(TEMPLATE)
                if draw(st.booleans()):  # a layout of our own instead of vLLM's attributes
                    del span.attributes[:]
                    for key, kind in draw(st.sampled_from(shapes)):
                        _set(span.attributes.add(key=key).value, kind, draw)
                else:
                    span.attributes.add(key="llmslo.tenant").value.string_value = draw(texts)
                    latency = span.attributes[0].value
                    latency.double_value = draw(doubles)
                span.name = draw(st.sampled_from(["llm_request"] * 6 + ["Load model", ""]))
                span.trace_id = draw(st.sampled_from([span.trace_id, b"", b"\x01" * 16]))
                span.end_time_unix_nano = draw(st.sampled_from([span.end_time_unix_nano, 0, 2**64 - 1]))
                if draw(st.integers(0, 4)) == 0:
                    span.parent_span_id = b"\x02" * 8
                if draw(st.integers(0, 6)) == 0:
                    span.events.add(name="e").attributes.add(key=READ[0]).value.double_value = 1.0
    return request.SerializeToString()


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(bodies()))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(body) - 1)))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and body:
            body[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del body[i:]
        else:
            body[i:i] = draw(st.binary(min_size=1, max_size=4))
    return bytes(body)


def _pair(native: bool = True) -> tuple[Receiver, Receiver]:
    if native and not speedups.AVAILABLE:
        from conftest import speedups_unavailable

        speedups_unavailable("collector._spanscan")

    def store(speedups: bool) -> Store:
        return Store(LIMITS, (CHAT_SLO, STRICT_SLO), wall_ns=lambda: 1_700_000_000_000_000_000, monotonic=lambda: 0.0,
                     speedups=speedups)

    fast_store, reference_store = store(native), store(False)
    fast = Receiver(fast_store, TraceIngest(fast_store, CONFIG, speedups=native), MetricIngest(fast_store))
    reference = Receiver(reference_store, TraceIngest(reference_store, CONFIG, fast_path=False),
                         MetricIngest(reference_store))
    return fast, reference


NATIVE = [pytest.param(True, id="native"), pytest.param(False, id="python")]


def _send_both(fast: Receiver, reference: Receiver, body: bytes) -> None:
    got = fast.handle_http("/v1/traces", body, PROTOBUF)
    with patch.object(store_module, "FLUSH_SERIES_AT", 1):  # the reference aggregates one at a time
        want = reference.handle_http("/v1/traces", body, PROTOBUF)
    assert got == want


def _same_state(fast: Receiver, reference: Receiver) -> None:
    # repr, not ==: 72 == 72.0, but an int where the full path has a float would change the output
    assert repr(fast.store.snapshot()) == repr(reference.store.snapshot())


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("native", NATIVE)
@SETTINGS
@given(payloads=st.lists(bodies(), min_size=1, max_size=3))
def test_fast_path_equals_full_decode(native: bool, payloads: list[bytes]) -> None:
    fast, reference = _pair(native)
    for body in payloads * 2:  # the second round meets the layouts the first one taught
        _send_both(fast, reference, body)
    _same_state(fast, reference)


@pytest.mark.parametrize("native", NATIVE)
@SETTINGS
@given(body=corrupted())
def test_corrupted_payloads_answer_the_same(native: bool, body: bytes) -> None:
    fast, reference = _pair(native)
    _send_both(fast, reference, body)
    _send_both(fast, reference, body)
    _same_state(fast, reference)


@pytest.mark.parametrize("native", NATIVE)
def test_real_spans_take_the_fast_path_and_match(native: bool) -> None:
    """The real vLLM 0.32 spans: every one is read by the C reader, or after the first by a
    learnt layout, and the result equals the full path's. (Guards against a fast path that
    silently never runs.)"""
    fast, reference = _pair(native)
    spans = 0
    for _, request in capture_requests():
        body = request.SerializeToString()
        spans += sum(1 for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
                     if s.name == "llm_request")
        for _ in range(2):
            _send_both(fast, reference, body)
    assert isinstance(fast.traces, TraceIngest)
    assert fast.traces.fast_spans >= (2 * spans if native else 2 * spans - 1)
    assert reference.traces.fast_spans == 0
    _same_state(fast, reference)
