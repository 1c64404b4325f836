"""Span -> request observation: attribute spellings, labels and rejection. Each case starts from a
real captured vLLM span and changes one thing."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.litepb import LiteTraceRequest
from collector.spans import PLAN, SpanContextConfig, SpanRejected, observe_span

from .fixtures import attribute, llm_request_spans

CONFIG = SpanContextConfig(model_attributes=("gen_ai.request.model",), tenant_attributes=("llmslo.tenant",))


def real_span() -> Span:
    span = Span()
    span.CopyFrom(next(llm_request_spans()))
    return span


def observe(span: Span, model: str = "", tenant: str = ""):  # type: ignore[no-untyped-def]
    """Through the lean wire view the service uses (collector.litepb), as the receiver does."""
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.append(span)
    lite = LiteTraceRequest.FromString(request.SerializeToString()).resource_spans[0].scope_spans[0].spans[0]
    return observe_span(lite, model, tenant, CONFIG, frozenset(CONFIG.model_attributes),
                        frozenset(CONFIG.tenant_attributes))


def rename(span: Span, old: str, new: str) -> None:
    for kv in span.attributes:
        if kv.key == old:
            kv.key = new


def set_attr(span: Span, key: str, **value: object) -> None:
    for kv in span.attributes:
        if kv.key == key:
            kv.value.Clear()
            for k, v in value.items():
                setattr(kv.value, k, v)
            return
    kv = KeyValue(key=key)
    for k, v in value.items():
        setattr(kv.value, k, v)
    span.attributes.append(kv)


def test_plan_comes_from_the_catalog() -> None:
    assert ("ttft", "gen_ai.latency.time_to_first_token") in PLAN.direct
    assert PLAN.per_token == (("tpot", "gen_ai.latency.time_in_model_decode", "gen_ai.usage.completion_tokens"),)
    assert PLAN.counters == {"input_tokens", "output_tokens"}


def test_current_semconv_token_names_are_read() -> None:
    span = real_span()
    rename(span, "gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens")
    rename(span, "gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens")
    original = real_span()
    obs = observe(span)
    assert obs.values["input_tokens"] == attribute(original, "gen_ai.usage.prompt_tokens")
    assert obs.values["output_tokens"] == attribute(original, "gen_ai.usage.completion_tokens")
    assert obs.values["tpot"] == observe(original).values["tpot"]


def test_both_spellings_count_once_and_the_catalog_spelling_wins() -> None:
    span = real_span()
    set_attr(span, "gen_ai.usage.input_tokens", int_value=999)
    assert observe(span).values["input_tokens"] == attribute(real_span(), "gen_ai.usage.prompt_tokens")


def test_tpot_absent_for_a_single_token() -> None:
    span = real_span()
    set_attr(span, "gen_ai.usage.completion_tokens", int_value=1)
    obs = observe(span)
    assert "tpot" not in obs.values
    assert obs.values["ttft"] == attribute(span, "gen_ai.latency.time_to_first_token")


def test_model_and_tenant_from_span_override_resource() -> None:
    span = real_span()
    assert observe(span, "from-resource", "team-r").model == "from-resource"
    set_attr(span, "gen_ai.request.model", string_value="m1")
    set_attr(span, "llmslo.tenant", string_value="team-a")
    obs = observe(span, "from-resource", "team-r")
    assert (obs.model, obs.tenant) == ("m1", "team-a")
    assert (observe(real_span()).model, observe(real_span()).tenant) == ("unknown", "unknown")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        pytest.param("gen_ai.latency.time_to_first_token", {"string_value": "fast"}, "expected a number", id="string"),
        pytest.param("gen_ai.latency.e2e", {"double_value": -1.0}, ">= 0", id="negative"),
        pytest.param("gen_ai.latency.e2e", {"double_value": float("nan")}, "finite", id="nan"),
        pytest.param("gen_ai.usage.prompt_tokens", {"double_value": 2.5}, "whole number", id="fractional-tokens"),
    ],
)
def test_untrustworthy_spans_are_rejected_with_a_reason(key: str, value: dict[str, object], reason: str) -> None:
    span = real_span()
    set_attr(span, key, **value)
    with pytest.raises(SpanRejected, match=reason) as info:
        observe(span)
    assert key in str(info.value)


def test_span_without_latency_attributes_is_rejected() -> None:
    span = Span(name="llm_request")
    with pytest.raises(SpanRejected, match="none of"):
        observe(span)


@pytest.mark.parametrize(
    ("setter", "expected"),
    [
        ({"int_value": -5}, ("int_value", -5)),
        ({"int_value": 2**62}, ("int_value", 2**62)),
        ({"double_value": 0.0}, ("double_value", 0.0)),
        ({"bool_value": True}, ("bool_value", True)),
        ({"string_value": "héllo"}, ("string_value", "héllo")),
        ({"bytes_value": b"\x00\x01"}, ("bytes_value", None)),
        ({}, (None, None)),
    ],
)
def test_lite_any_value_decodes_like_protobuf(setter: dict[str, object], expected: tuple[object, object]) -> None:
    from collector.litepb import any_value

    kv = KeyValue(key="k")
    for k, v in setter.items():
        setattr(kv.value, k, v)
    assert any_value(kv.value.SerializeToString()) == expected
    assert kv.value.WhichOneof("value") == expected[0]


def test_split_key_value_handles_any_field_order() -> None:
    from collector.litepb import any_value, split_key_value

    kv = KeyValue(key="gen_ai.latency.e2e")
    kv.value.double_value = 0.25
    usual = kv.SerializeToString()
    assert split_key_value(usual) == (b"gen_ai.latency.e2e", kv.value.SerializeToString())
    key_field, value_field = usual[: 2 + usual[1]], usual[2 + usual[1]:]
    assert split_key_value(value_field + key_field) == (b"gen_ai.latency.e2e", kv.value.SerializeToString())
    assert split_key_value(key_field) == (b"gen_ai.latency.e2e", b"")
    # a repeated message field merges: a later int_value replaces the double in the oneof
    other = KeyValue()
    other.value.int_value = 7
    merged = KeyValue.FromString(usual + other.SerializeToString())
    assert any_value(split_key_value(usual + other.SerializeToString())[1]) == ("int_value", 7)
    assert merged.value.WhichOneof("value") == "int_value"
    long_key = KeyValue(key="k" * 200)
    long_key.value.string_value = "v" * 300
    assert split_key_value(long_key.SerializeToString()) == (b"k" * 200, long_key.value.SerializeToString())
