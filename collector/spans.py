"""vLLM `llm_request` span -> one request's SLI values, driven by the catalog's `vllm-trace` sources.

The attribute each SLI reads is taken from `slo.catalog` (SourceKind.VLLM_TRACE), never typed here,
so the collector and the docs cannot disagree. Two kinds of source exist: a plain attribute
(`gen_ai.latency.time_to_first_token`) and TPOT's formula `decode / (completion_tokens - 1)`.

Attribute names changed in the OTel GenAI conventions: `gen_ai.usage.prompt_tokens` and
`gen_ai.usage.completion_tokens` (what vLLM sends, now deprecated) became `gen_ai.usage.input_tokens`
and `gen_ai.usage.output_tokens`. Both spellings are read; when a span carries both the catalog's
(vLLM's) spelling wins, so a value is never counted twice.

This module is pure: spans in, `RequestObservation`s out. A span whose attributes have the wrong
type or impossible values is rejected with a reason (reported through OTLP partial success), not
half-counted.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, NamedTuple

from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.litepb import DOUBLE, INT, STRING, any_value, split_key_value
from slo.catalog import Instrument, SourceKind, slis_from

SPAN_NAME: Final = "llm_request"

DEPRECATED_ALIASES: Final[Mapping[str, str]] = {
    # current semconv name -> the name the catalog (and vLLM) uses
    "gen_ai.usage.input_tokens": "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.output_tokens": "gen_ai.usage.completion_tokens",
}

_FORMULA = re.compile(r"^(?P<num>[\w.]+) / \((?P<den>[\w.]+) - 1\)$")
_ATTRIBUTE = re.compile(r"^[\w.]+$")
_INF: Final = math.inf
_unpack_double: Final = struct.Struct("<d").unpack_from


@dataclass(frozen=True, slots=True)
class TracePlan:
    """What to read from a span, compiled once from the catalog."""

    direct: tuple[tuple[str, str], ...]  # (sli key, attribute) for plain attributes
    per_token: tuple[tuple[str, str, str], ...]  # (sli key, numerator attr, count attr): x / (n - 1)
    histograms: frozenset[str]  # sli keys recorded as histograms
    counters: frozenset[str]  # sli keys recorded as counters (token totals)
    token_attributes: frozenset[str]  # attributes that must be non-negative integers
    attributes: frozenset[str] = field(default_factory=frozenset)  # every attribute read


def build_plan() -> TracePlan:
    direct: list[tuple[str, str]] = []
    per_token: list[tuple[str, str, str]] = []
    hist: set[str] = set()
    counters: set[str] = set()
    tokens: set[str] = set()
    for sli in slis_from(SourceKind.VLLM_TRACE):
        if sli.key == "goodput":
            continue  # computed from the other values against SLO targets (collector.goodput)
        source = sli.sources_of(SourceKind.VLLM_TRACE)[0]
        formula = _FORMULA.match(source.metric)
        if formula is not None:
            per_token.append((sli.key, formula["num"], formula["den"]))
            tokens.add(formula["den"])
        elif _ATTRIBUTE.match(source.metric):
            direct.append((sli.key, source.metric))
            if sli.unit.startswith("{"):
                tokens.add(source.metric)
        else:
            raise ValueError(f"catalog source {source.metric!r} of SLI {sli.key} is neither an attribute nor "
                             "the `a / (b - 1)` formula")
        (hist if sli.instrument is Instrument.HISTOGRAM else counters).add(sli.key)
    attrs = {a for _, a in direct} | {a for _, n, d in per_token for a in (n, d)}
    return TracePlan(tuple(direct), tuple(per_token), frozenset(hist), frozenset(counters),
                     frozenset(tokens), frozenset(attrs))


PLAN: Final = build_plan()


@dataclass(frozen=True, slots=True)
class SpanContextConfig:
    """Where the labels that vLLM does not put on its span come from."""

    model_attributes: tuple[str, ...] = ("gen_ai.response.model", "gen_ai.request.model", "llmslo.model_name")
    tenant_attributes: tuple[str, ...] = ("llmslo.tenant", "tenant")
    default_model: str = "unknown"
    default_tenant: str = "unknown"


class RequestObservation(NamedTuple):
    """One finished request as its span describes it. `values` maps SLI key -> value in the
    catalog's unit; an SLI the span cannot give (TPOT with one token) is absent. A NamedTuple,
    not a frozen dataclass: one is built per span and this is several times cheaper."""

    model: str
    tenant: str
    values: Mapping[str, float]  # a dict here; the C reader's read-only Values (collector.speedups)
    trace_id: bytes
    span_id: bytes
    time_ns: int


class SpanRejected(ValueError):
    """An `llm_request` span whose attributes cannot be trusted; the message says which and why."""


def scalar(kv: KeyValue) -> str | float | bool | None:
    """An attribute's value when it is a scalar; arrays, maps and bytes are None."""
    value = kv.value
    kind = value.WhichOneof("value")
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return value.int_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


# attribute (UTF-8 bytes, as on the wire) -> (SLI keys it gives directly, whole tokens?, is a
# deprecated alias, attribute name); see DEPRECATED_ALIASES.
_Slot = tuple[tuple[str, ...], bool, bool, str]


def _slots() -> dict[bytes, _Slot]:
    direct: dict[str, list[str]] = {}
    for sli_key, attribute in PLAN.direct:
        direct.setdefault(attribute, []).append(sli_key)
    out: dict[bytes, _Slot] = {
        a.encode(): (tuple(direct.get(a, ())), a in PLAN.token_attributes, False, a) for a in PLAN.attributes
    }
    for alias, current in DEPRECATED_ALIASES.items():
        sli_keys, whole, _, _ = out[current.encode()]
        out[alias.encode()] = (sli_keys, whole, True, alias)
    return out


_WANTED: Final = _slots()


def _tpot_keys() -> tuple[tuple[str, str, str], ...]:
    """TPOT's formula over SLI keys instead of attributes: every attribute a formula reads is also
    read directly by some SLI (decode, output_tokens), so the span's values already hold it."""
    holder = {attribute: sli_key for sli_key, attribute in PLAN.direct}
    out = []
    for sli_key, numerator, count in PLAN.per_token:
        if numerator not in holder or count not in holder:
            raise ValueError(f"catalog formula of {sli_key} reads an attribute no SLI reads directly")
        out.append((sli_key, holder[numerator], holder[count]))
    return tuple(out)


_TPOT_KEYS: Final = _tpot_keys()


def _number(key: str, raw_value: bytes) -> float:
    kind, decoded = any_value(raw_value)
    if kind != DOUBLE and kind != INT:
        raise SpanRejected(f"attribute {key} is a {kind or 'missing value'}, expected a number")
    return float(decoded) if kind == DOUBLE else int(decoded)


def _label(key_bytes: bytes, raw_value: bytes, model: str, tenant: str, model_keys: frozenset[str],
           tenant_keys: frozenset[str]) -> tuple[str, str]:
    """(model, tenant) after reading one label attribute; the first value found wins."""
    kind, text = any_value(raw_value)
    if kind == STRING and text:
        key = key_bytes.decode()
        if key in model_keys and not model:
            model = text
        if key in tenant_keys and not tenant:
            tenant = text
    return model, tenant


@lru_cache(maxsize=64)
def _label_keys(model_keys: frozenset[str], tenant_keys: frozenset[str]) -> frozenset[bytes]:
    return frozenset(k.encode() for k in model_keys | tenant_keys)


def observe_span(
    span: Any,
    resource_model: str,
    resource_tenant: str,
    config: SpanContextConfig,
    model_keys: frozenset[str],
    tenant_keys: frozenset[str],
) -> RequestObservation:
    """Derive a request's SLI values from its span (a `collector.litepb` span: attribute values
    are raw `AnyValue` bytes). Raises SpanRejected for untrustworthy spans.

    `resource_model` / `resource_tenant` were looked up once per resource; a span attribute
    overrides them. This is the collector's hot path (one call per span), hence the flat loop.
    """
    values: dict[str, float] = {}
    from_alias: set[str] | None = None
    model = ""
    tenant = ""
    wanted = _WANTED
    label_keys = _label_keys(model_keys, tenant_keys)
    for kv in span.attributes:
        # The usual encoding is 0x0a <key length> key 0x12 <value length> value, nothing else; the
        # key is looked up first so an attribute we do not read costs one slice. Anything else (a
        # second key field, where protobuf's last one wins): split_key_value.
        size = len(kv)
        if size > 1 and kv[0] == 0x0A and kv[1] < 0x80 and (
            (end := 2 + kv[1]) == size
            or (end + 2 <= size and kv[end] == 0x12 and kv[end + 1] < 0x80 and end + 2 + kv[end + 1] == size)
        ):
            key_bytes = kv[2:end]
            slot = wanted.get(key_bytes)
            if slot is None:
                if key_bytes in label_keys:
                    model, tenant = _label(key_bytes, split_key_value(kv)[1], model, tenant, model_keys, tenant_keys)
                continue
            rest = kv[end:]
            if len(rest) == 11 and rest[:3] == b"\x12\x09\x21":  # one double: every vLLM latency attribute
                number: float = _unpack_double(rest, 3)[0]
            elif len(rest) == 4 and rest[:3] == b"\x12\x02\x18" and rest[3] < 0x80:  # one int < 128: tokens
                number = rest[3]
            elif len(rest) == 5 and rest[:3] == b"\x12\x03\x18" and rest[3] >= 0x80 and rest[4] < 0x80:
                number = (rest[3] & 0x7F) | (rest[4] << 7)  # one int < 16384
            else:
                number = _number(slot[3], split_key_value(kv)[1])
        else:
            key_bytes, raw_value = split_key_value(kv)
            slot = wanted.get(key_bytes)
            if slot is None:
                if key_bytes in label_keys:
                    model, tenant = _label(key_bytes, raw_value, model, tenant, model_keys, tenant_keys)
                continue
            number = _number(slot[3], raw_value)
        if not (number >= 0 and number != _INF):  # also false for NaN
            raise SpanRejected(f"attribute {slot[3]} has value {number}; must be a finite number >= 0")
        sli_keys, whole, alias, _ = slot
        if whole and number != int(number):
            raise SpanRejected(f"attribute {slot[3]} has value {number}; must be a whole number of tokens")
        if alias:
            if sli_keys[0] in values and (from_alias is None or sli_keys[0] not in from_alias):
                continue  # the catalog's spelling was already read and wins
            if from_alias is None:
                from_alias = set()
            from_alias.add(sli_keys[0])
        for sli_key in sli_keys:
            values[sli_key] = number
    if not values:
        raise SpanRejected("llm_request span carries none of the gen_ai.latency / gen_ai.usage attributes")
    for sli_key, numerator, count in _TPOT_KEYS:
        n = values.get(count)
        x = values.get(numerator)
        if x is not None and n is not None and n >= 2:
            values[sli_key] = x / (n - 1)
    return RequestObservation(
        model or resource_model or config.default_model,
        tenant or resource_tenant or config.default_tenant,
        values,
        span.trace_id,
        span.span_id,
        span.end_time_unix_nano,
    )
