"""Simulated `llm_request` spans have the real spans' shape and agree with the simulated metrics."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.fleet import Fleet, FleetSpec, TenantSpec, export_request
from fleet.helpers import fleet_at, real_spans
from slo.metrics.parse import parse_exposition


def _attrs(span: Span) -> dict[str, tuple[str, Any]]:
    out = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        assert kind is not None
        out[kv.key] = (kind, getattr(kv.value, kind))
    return out


@pytest.fixture(scope="module")
def simulated() -> tuple[Fleet, ExportTraceServiceRequest]:
    fleet = fleet_at(pods=4, seed=5, seconds=90)
    request = export_request([(pod, fleet.drain(i)) for i, pod in enumerate(fleet.pods)])
    decoded = ExportTraceServiceRequest()
    decoded.ParseFromString(request.SerializeToString())  # what a receiver sees
    return fleet, decoded


def test_shape_matches_the_real_spans(simulated: tuple[Fleet, ExportTraceServiceRequest]) -> None:
    real = list(real_spans())
    assert real, "the real capture has llm_request spans"
    r_res, r_scope, r_span = real[0]
    r_keys = {k: kind for k, (kind, _) in _attrs(r_span).items()}
    _, request = simulated
    assert len(request.resource_spans) == 4
    count = 0
    for rs in request.resource_spans:
        assert [a.key for a in rs.resource.attributes] == [a.key for a in r_res.attributes]
        assert [a.value.WhichOneof("value") for a in rs.resource.attributes] == \
            [a.value.WhichOneof("value") for a in r_res.attributes]
        for ss in rs.scope_spans:
            assert (ss.scope.name, ss.scope.version) == (r_scope.scope.name, r_scope.scope.version)
            for span in ss.spans:
                count += 1
                assert (span.name, span.kind, span.flags, span.parent_span_id) == \
                    (r_span.name, r_span.kind, r_span.flags, r_span.parent_span_id)
                assert [a.key for a in span.attributes] == [a.key for a in r_span.attributes]
                assert {k: kind for k, (kind, _) in _attrs(span).items()} == r_keys
                assert len(span.trace_id) == 16 and len(span.span_id) == 8
    assert count > 100


def test_span_times_are_consistent_with_the_attributes(simulated: tuple[Fleet, ExportTraceServiceRequest]) -> None:
    _, request = simulated
    for rs in request.resource_spans:
        for span in rs.scope_spans[0].spans:
            a = {k: v for k, (_, v) in _attrs(span).items()}
            e2e = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
            assert a["gen_ai.latency.e2e"] == pytest.approx(e2e, abs=1e-6)
            assert a["gen_ai.latency.time_in_model_inference"] == pytest.approx(
                a["gen_ai.latency.time_in_model_prefill"] + a["gen_ai.latency.time_in_model_decode"], abs=1e-9)
            assert 0 <= a["gen_ai.latency.time_in_queue"] < a["gen_ai.latency.time_to_first_token"] \
                <= a["gen_ai.latency.e2e"]
            assert a["gen_ai.usage.completion_tokens"] <= a["gen_ai.request.max_tokens"]


def test_span_values_equal_the_metrics(simulated: tuple[Fleet, ExportTraceServiceRequest]) -> None:
    """Every finished request is one span and one e2e observation: the sums must agree."""
    fleet, request = simulated
    for i, rs in enumerate(request.resource_spans):
        attrs = [{k: v for k, (_, v) in _attrs(s).items()} for s in rs.scope_spans[0].spans]
        fams = parse_exposition(fleet.metrics(i)).families
        e2e = fams["vllm:e2e_request_latency_seconds"]
        count = next(s.value for s in e2e.samples if s.name.endswith("_count"))
        total = next(s.value for s in e2e.samples if s.name.endswith("_sum"))
        assert count == len(attrs)
        assert math.isclose(total, sum(float(a["gen_ai.latency.e2e"]) for a in attrs), rel_tol=1e-9)
        gen = fams["vllm:request_generation_tokens"]
        assert next(s.value for s in gen.samples if s.name.endswith("_sum")) == \
            sum(int(a["gen_ai.usage.completion_tokens"]) for a in attrs)


def test_ttft_attribute_is_first_token_minus_arrival() -> None:
    fleet = fleet_at(pods=2, seed=3, seconds=60)
    for i in range(2):
        for req in fleet.drain(i):
            span = export_request([(fleet.pods[i], [req])]).resource_spans[0].scope_spans[0].spans[0] \
                if not req.aborted else None
            if span is None:
                continue
            ttft = {kv.key: kv.value.double_value for kv in span.attributes}["gen_ai.latency.time_to_first_token"]
            assert ttft == req.first_token - req.arrival
            assert span.start_time_unix_nano == int(req.arrival * 1e9)


def test_falsy_request_parameters_are_left_out_as_vllm_does() -> None:
    greedy = TenantSpec("greedy", 1.0, temperature=0.0)
    fleet = Fleet(FleetSpec(pods=1, seed=1, tenants=(greedy,), abort_prob=0.0), keep_finished=True)
    fleet.advance_all(fleet.spec.start + 30)
    request = export_request([(fleet.pods[0], fleet.drain(0))])
    spans = request.resource_spans[0].scope_spans[0].spans
    assert spans
    real_keys = {kv.key for kv in next(real_spans())[2].attributes}
    for span in spans:
        assert {kv.key for kv in span.attributes} == real_keys - {"gen_ai.request.temperature"}


def test_aborted_requests_get_no_span_but_are_counted() -> None:
    fleet = fleet_at(pods=1, seed=9, seconds=200, rate=5.0, abort_prob=0.2)
    done = fleet.drain(0)
    aborted = [r for r in done if r.aborted]
    assert aborted
    spans = export_request([(fleet.pods[0], done)]).resource_spans[0].scope_spans[0].spans
    assert len(spans) == len(done) - len(aborted)
    fams = parse_exposition(fleet.metrics(0)).families
    abort = fams["vllm:request_success_total"]
    assert next(s.value for s in abort.samples if s.label("finished_reason") == "abort") == len(aborted)
