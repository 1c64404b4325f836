"""Proxy-vantage SLIs: what a client of the pod experiences, measured by llmslo's proxy.

They get their own names (llmslo.proxy.*) rather than the semconv client names, because an
application instrumented with an OTel GenAI SDK already emits gen_ai.client.* and the two would
collide and double count; and they differ from the engine's numbers by design (network, the HTTP
server, tokenization and detokenization, SSE framing).
"""

from __future__ import annotations

from slo.catalog import boundaries as b
from slo.catalog.model import SLI, Instrument, Source, SourceKind, Vantage

PROXY_LABELS = ("model_name", "route", "tenant", "namespace", "pod")
_RECEIVED = "the proxy received the request head from the client"


def _proxy(
    key: str,
    name: str,
    unit: str,
    instrument: Instrument,
    summary: str,
    definition: str,
    boundaries: b.Boundaries = (),
    labels: tuple[str, ...] = PROXY_LABELS,
) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.proxy.{name}",
        unit=unit,
        instrument=instrument,
        vantage=Vantage.PROXY,
        summary=summary,
        definition=definition,
        labels=labels,
        boundaries=boundaries,
        sources=(Source(SourceKind.PROXY, f"llmslo.proxy.{name}"),),
    )


PROXY_SLIS: tuple[SLI, ...] = (
    _proxy(
        "proxy_ttft",
        "time_to_first_token",
        "s",
        Instrument.HISTOGRAM,
        "Time to first token as a client of the pod sees it.",
        f"From the moment {_RECEIVED} to the moment the proxy sent the first response byte that "
        "carries generated content (the first SSE event with a non-empty delta for streams; the "
        "whole body for non-streamed requests). One observation per request that produced content.",
        b.TTFT,
    ),
    _proxy(
        "proxy_itl",
        "inter_chunk_latency",
        "s",
        Instrument.HISTOGRAM,
        "Gap between consecutive streamed chunks as sent to the client.",
        "For each streamed content chunk after the first: the time since the previous content chunk "
        "was sent. Per chunk, not per token.",
        b.TIME_PER_TOKEN,
    ),
    _proxy(
        "proxy_tpot",
        "time_per_output_token",
        "s",
        Instrument.HISTOGRAM,
        "Per-request mean time per output token after the first, client view.",
        "Per successful streamed request with at least 2 output tokens: (e2e - TTFT) / (output "
        "tokens - 1), output tokens from the response's usage.",
        b.TIME_PER_TOKEN,
    ),
    _proxy(
        "proxy_e2e",
        "request.duration",
        "s",
        Instrument.HISTOGRAM,
        "End-to-end latency as a client of the pod sees it.",
        f"From the moment {_RECEIVED} to the moment the proxy sent the last byte of the response "
        "(or the request ended in error or cancellation).",
        b.REQUEST_DURATION,
        labels=(*PROXY_LABELS, "outcome"),
    ),
    _proxy(
        "proxy_input_tokens",
        "input_tokens",
        "{token}",
        Instrument.COUNTER,
        "Prompt tokens of requests through the proxy (exact, from usage).",
        "Sum of `usage.prompt_tokens` of responses that reported usage.",
    ),
    _proxy(
        "proxy_output_tokens",
        "output_tokens",
        "{token}",
        Instrument.COUNTER,
        "Output tokens delivered through the proxy (exact, from usage).",
        "Sum of `usage.completion_tokens` of responses that reported usage.",
    ),
    _proxy(
        "proxy_requests",
        "requests",
        "{request}",
        Instrument.COUNTER,
        "Requests through the proxy by outcome.",
        "Counted when a request ends: success, engine_error (status >= 500 or an error event), "
        "midstream_failure (the stream broke after the first byte), client_cancel (the client went "
        "away; not a failure), rejected (4xx).",
        labels=(*PROXY_LABELS, "outcome"),
    ),
)
