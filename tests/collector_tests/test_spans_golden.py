"""The real vLLM 0.32 spans (../shared/fixtures/vllm-0.32-cpu/traces-*.bin) replayed through the
processor: a golden output, byte for byte, and sums checked against the spans' own attributes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from collector.exposition import render_openmetrics, render_text
from collector.receiver import PROTOBUF

from .fixtures import attribute, capture_requests, llm_request_spans, pinned_store, receiver_for

GOLDEN = Path(__file__).parent / "golden"


def replayed_store():  # type: ignore[no-untyped-def]
    store = pinned_store()
    receiver = receiver_for(store)
    for path, request in capture_requests():
        reply = receiver.handle_http("/v1/traces", path.read_bytes(), PROTOBUF)
        assert reply.status == 200, (path.name, reply.body)
        assert len(request.resource_spans) >= 1
    return store


@pytest.mark.parametrize(("name", "render"), [("spans.prom", render_text), ("spans.openmetrics", render_openmetrics)])
def test_replayed_capture_matches_golden(name: str, render, update_golden: bool) -> None:  # type: ignore[no-untyped-def]
    out = render(replayed_store().snapshot())
    golden = GOLDEN / name
    if update_golden:
        golden.write_text(out, encoding="utf-8")
    if not golden.exists():
        pytest.fail(f"{golden} is missing; create it with --update-golden and review it")
    assert out == golden.read_text(encoding="utf-8")


def _histogram(store, prom_name: str):  # type: ignore[no-untyped-def]
    metric = next(m for m in store.snapshot() if m.prom_name == prom_name)
    assert len(metric.points) == 1
    return metric.points[0]


@pytest.mark.parametrize(
    ("prom_name", "key"),
    [
        ("gen_ai_server_time_to_first_token_seconds", "gen_ai.latency.time_to_first_token"),
        ("gen_ai_server_request_duration_seconds", "gen_ai.latency.e2e"),
        ("llmslo_engine_queue_time_seconds", "gen_ai.latency.time_in_queue"),
        ("llmslo_engine_prefill_time_seconds", "gen_ai.latency.time_in_model_prefill"),
        ("llmslo_engine_decode_time_seconds", "gen_ai.latency.time_in_model_decode"),
        ("llmslo_engine_inference_time_seconds", "gen_ai.latency.time_in_model_inference"),
    ],
)
def test_histogram_sums_equal_the_span_attributes(prom_name: str, key: str) -> None:
    spans = list(llm_request_spans())
    point = _histogram(replayed_store(), prom_name)
    values = [attribute(s, key) for s in spans]
    assert point.count == len(spans) == sum(point.counts)
    assert point.sum == math.fsum(values) or point.sum == sum(values)
    # every value sits in the bucket whose bound is the first >= it
    for value in values:
        assert any(b >= value for b in point.bounds)


def test_tpot_is_decode_over_tokens_minus_one() -> None:
    spans = list(llm_request_spans())
    expected = [
        attribute(s, "gen_ai.latency.time_in_model_decode") / (attribute(s, "gen_ai.usage.completion_tokens") - 1)
        for s in spans
        if attribute(s, "gen_ai.usage.completion_tokens") >= 2
    ]
    point = _histogram(replayed_store(), "gen_ai_server_time_per_output_token_seconds")
    assert point.count == len(expected) > 0
    assert point.sum == pytest.approx(sum(expected), rel=1e-12)


def test_token_counters_equal_the_span_usage() -> None:
    spans = list(llm_request_spans())
    snapshot = {m.prom_name: m for m in replayed_store().snapshot()}
    prompt = sum(attribute(s, "gen_ai.usage.prompt_tokens") for s in spans)
    completion = sum(attribute(s, "gen_ai.usage.completion_tokens") for s in spans)
    assert snapshot["llmslo_engine_input_tokens_total"].points[0].value == prompt
    assert snapshot["llmslo_engine_output_tokens_total"].points[0].value == completion


def test_goodput_counts_each_request_once_per_slo() -> None:
    spans = list(llm_request_spans())
    goodput = next(m for m in replayed_store().snapshot() if m.prom_name == "llmslo_engine_goodput_requests_total")
    by_slo: dict[str, dict[str, float]] = {}
    for p in goodput.points:
        labels = dict(p.labels)
        by_slo.setdefault(labels["slo"], {})[labels["goodput"]] = p.value
    assert {k: sum(v.values()) for k, v in by_slo.items()} == {"chat-interactive": len(spans), "strict": len(spans)}
    strict_met = sum(
        1 for s in spans
        if attribute(s, "gen_ai.latency.e2e") <= 0.04 and attribute(s, "gen_ai.latency.time_to_first_token") <= 0.02
    )
    assert by_slo["strict"].get("met", 0) == strict_met
    assert 0 < strict_met < len(spans), "the fixture should exercise both outcomes of the strict SLO"


def test_exemplars_point_at_real_spans() -> None:
    ids = {(s.trace_id, s.span_id) for s in llm_request_spans()}
    point = _histogram(replayed_store(), "gen_ai_server_time_to_first_token_seconds")
    assert point.exemplars
    for _, exemplar in point.exemplars:
        assert (exemplar.trace_id, exemplar.span_id) in ids


def test_openmetrics_output_parses_with_exemplars() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    families = list(text_string_to_metric_families(render_openmetrics(replayed_store().snapshot())))
    exemplars = [s.exemplar for f in families for s in f.samples if s.exemplar is not None]
    ids = {s.trace_id.hex() for s in llm_request_spans()}
    assert exemplars
    assert {e.labels["trace_id"] for e in exemplars} <= ids
