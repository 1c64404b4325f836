"""Engine-vantage SLIs: what vLLM measures about each request, from /metrics or from its spans.

Every definition names its origin and end instant; the vLLM facts come from
reference/vllm-metrics.md (vllm/v1/metrics/stats.py, 0.33.0) and reference/vllm-tracing.md.
"""

from __future__ import annotations

from slo.catalog import boundaries as b
from slo.catalog.model import (
    SLI,
    Fidelity,
    Instrument,
    LabelDerivation,
    Source,
    SourceKind,
    Vantage,
)
from slo.catalog.versions import between

VLLM = SourceKind.VLLM
TRACE = SourceKind.VLLM_TRACE
ENGINE_LABELS = ("model_name", "engine", "namespace", "pod")

_ARRIVAL = (
    "the engine's API frontend received the request (vLLM `arrival_time`, taken when tokenization "
    "begins, frontend wall clock)"
)

TTFT = SLI(
    key="ttft",
    otel_name="gen_ai.server.time_to_first_token",
    unit="s",
    instrument=Instrument.HISTOGRAM,
    vantage=Vantage.ENGINE,
    summary="Time to first token, as the engine measures it.",
    definition=(
        f"From the moment {_ARRIVAL} to the moment the request's first output token reached the "
        "frontend. Includes queueing, tokenization and prefill; excludes the network and anything "
        "in front of the engine (see proxy_ttft for the client's view). One observation per "
        "request that produced a token."
    ),
    labels=ENGINE_LABELS,
    boundaries=b.TTFT,
    sources=(
        Source(VLLM, "vllm:time_to_first_token_seconds"),
        Source(TRACE, "gen_ai.latency.time_to_first_token", versions=between("0.10.2")),
    ),
)

TPOT = SLI(
    key="tpot",
    otel_name="gen_ai.server.time_per_output_token",
    unit="s",
    instrument=Instrument.HISTOGRAM,
    vantage=Vantage.ENGINE,
    summary="Time per output token after the first: the per-request mean of the decode phase.",
    definition=(
        "Per finished request: (time of the last output token - time of the first output token) / "
        "(output tokens - 1). The decode-phase speed one user sees. vLLM records 0 for requests "
        "with a single output token, so those land in the lowest bucket."
    ),
    labels=ENGINE_LABELS,
    boundaries=b.TIME_PER_TOKEN,
    sources=(
        Source(VLLM, "vllm:request_time_per_output_token_seconds", versions=between("0.11.0")),
        Source(
            VLLM,
            "vllm:time_per_output_token_seconds",
            versions=between(until="0.15.0"),
            fidelity=Fidelity.UNAVAILABLE,
            replacement="vllm:request_time_per_output_token_seconds",
            note="Despite its name this is one observation per engine step (inter-token latency), "
            "not a per-request mean; it is mapped to `itl`, never to `tpot`.",
        ),
        Source(
            TRACE,
            "gen_ai.latency.time_in_model_decode / (gen_ai.usage.completion_tokens - 1)",
            versions=between("0.10.2"),
            note="Only for spans with at least 2 completion tokens.",
        ),
    ),
)

ITL = SLI(
    key="itl",
    otel_name="llmslo.engine.inter_token_latency",
    unit="s",
    instrument=Instrument.HISTOGRAM,
    vantage=Vantage.ENGINE,
    summary="Gap between consecutive outputs of one request, per engine step.",
    definition=(
        "For each decoding request and each engine step after its first token: the time since that "
        "request's previous output (engine-core timestamps). Several tokens emitted in one step "
        "(speculative decoding) are one gap, so this is per output chunk, not per token."
    ),
    labels=ENGINE_LABELS,
    boundaries=b.TIME_PER_TOKEN,
    sources=(
        Source(VLLM, "vllm:inter_token_latency_seconds", versions=between("0.10.2")),
        Source(
            VLLM,
            "vllm:time_per_output_token_seconds",
            versions=between(until="0.15.0"),
            replacement="vllm:inter_token_latency_seconds",
            note="The pre-0.10.2 name of the same per-step histogram (deprecated 0.10.2, hidden "
            "0.12, removed 0.15). In V0 engines it was per decode iteration of a sequence group.",
        ),
    ),
)

E2E = SLI(
    key="e2e",
    otel_name="gen_ai.server.request.duration",
    unit="s",
    instrument=Instrument.HISTOGRAM,
    vantage=Vantage.ENGINE,
    summary="End-to-end request latency inside the engine.",
    definition=(
        f"From the moment {_ARRIVAL} to the moment the request finished in the frontend (last "
        "token, stop, length limit, abort or error)."
    ),
    labels=ENGINE_LABELS,
    boundaries=b.REQUEST_DURATION,
    sources=(
        Source(VLLM, "vllm:e2e_request_latency_seconds"),
        Source(TRACE, "gen_ai.latency.e2e", versions=between("0.10.2")),
    ),
)


def _phase(
    key: str,
    name: str,
    summary: str,
    definition: str,
    metric: str,
    attribute: str,
    fallbacks: tuple[Source, ...] = (),
) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.engine.{name}",
        unit="s",
        instrument=Instrument.HISTOGRAM,
        vantage=Vantage.ENGINE,
        summary=summary,
        definition=definition,
        labels=ENGINE_LABELS,
        boundaries=b.PHASE_DURATION,
        sources=(
            Source(VLLM, metric),
            *fallbacks,
            Source(TRACE, attribute, versions=between("0.10.2")),
        ),
    )


QUEUE = _phase(
    "queue",
    "queue_time",
    "Time a request waited before it was first scheduled.",
    "From the engine core's QUEUED event to its first SCHEDULED event (engine-core clock). "
    "Excludes tokenization before the request reached the engine core.",
    "vllm:request_queue_time_seconds",
    "gen_ai.latency.time_in_queue",
    fallbacks=(
        Source(
            VLLM,
            "vllm:time_in_queue_requests",
            versions=between(until="0.9.2"),
            replacement="vllm:request_queue_time_seconds",
            note="V0 duplicate of request_queue_time_seconds; used only when the latter is absent.",
        ),
    ),
)
PREFILL = _phase(
    "prefill",
    "prefill_time",
    "Time from first scheduling to the first output token.",
    "From the first SCHEDULED event to the first output token (engine-core clock).",
    "vllm:request_prefill_time_seconds",
    "gen_ai.latency.time_in_model_prefill",
)
DECODE = _phase(
    "decode",
    "decode_time",
    "Time from the first to the last output token.",
    "From the first output token to the last output token of a finished request (engine-core clock).",
    "vllm:request_decode_time_seconds",
    "gen_ai.latency.time_in_model_decode",
)
INFERENCE = _phase(
    "inference",
    "inference_time",
    "Time the request spent scheduled (prefill + decode).",
    "From the first SCHEDULED event to the last output token (engine-core clock).",
    "vllm:request_inference_time_seconds",
    "gen_ai.latency.time_in_model_inference",
)


def _token_counter(key: str, direction: str, metric: str, definition: str, attribute: str) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.engine.{direction}_tokens",
        unit="{token}",
        instrument=Instrument.COUNTER,
        vantage=Vantage.ENGINE,
        summary=f"{direction.capitalize()} tokens processed by the engine (exact count).",
        definition=definition,
        labels=ENGINE_LABELS,
        sources=(Source(VLLM, metric), Source(TRACE, attribute, versions=between("0.10.2"))),
    )


INPUT_TOKENS = _token_counter(
    "input_tokens",
    "input",
    "vllm:prompt_tokens_total",
    "Prompt tokens of every request whose prefill completed, cached prefix tokens included, "
    "counted when the prefill step finishes. Aborted requests whose prefill ran are included.",
    "gen_ai.usage.prompt_tokens",
)
OUTPUT_TOKENS = _token_counter(
    "output_tokens",
    "output",
    "vllm:generation_tokens_total",
    "Output tokens generated, counted per engine step as they are produced (so a stream cut "
    "short still counts what was generated). Equals the sum of `usage.completion_tokens` of "
    "completed requests.",
    "gen_ai.usage.completion_tokens",
)


def _token_histogram(key: str, direction: str, metric: str, attribute: str) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.engine.request.{direction}_tokens",
        unit="{token}",
        instrument=Instrument.HISTOGRAM,
        vantage=Vantage.ENGINE,
        summary=f"{direction.capitalize()} length of each finished request.",
        definition=f"One observation per finished request: its {direction} token count.",
        labels=ENGINE_LABELS,
        boundaries=b.TOKENS,
        sources=(Source(VLLM, metric), Source(TRACE, attribute, versions=between("0.10.2"))),
    )


REQUEST_INPUT_TOKENS = _token_histogram(
    "request_input_tokens", "input", "vllm:request_prompt_tokens", "gen_ai.usage.prompt_tokens"
)
REQUEST_OUTPUT_TOKENS = _token_histogram(
    "request_output_tokens", "output", "vllm:request_generation_tokens", "gen_ai.usage.completion_tokens"
)

OUTCOME = LabelDerivation(
    target="outcome",
    source="finished_reason",
    values={"stop": "success", "length": "success", "repetition": "success", "abort": "abort",
            "error": "error"},
    default="error",
)

REQUESTS = SLI(
    key="requests",
    otel_name="llmslo.engine.requests",
    unit="{request}",
    instrument=Instrument.COUNTER,
    vantage=Vantage.ENGINE,
    summary="Finished requests by outcome and finish reason.",
    definition=(
        "Counted once when a request finishes in the engine. `finished_reason` is vLLM's (stop, "
        "length, repetition, abort, error); `outcome` groups it: stop/length/repetition = success, "
        "abort = abort, error = error. A request aborted because its client disconnected is not "
        "counted at all in vLLM 0.32 (`OutputProcessor.abort_requests` records no finished-request "
        "stats; checked on a real server), so client cancels are visible only from the proxy "
        "(`proxy_requests`, outcome client_cancel). Requests rejected before reaching the engine are "
        "not counted here either."
    ),
    labels=(*ENGINE_LABELS, "finished_reason", "outcome"),
    sources=(Source(VLLM, "vllm:request_success_total", derive=(OUTCOME,)),),
)

_PREFIX_UNIT_NOTE = (
    "Before 0.9 the help text said blocks, from 0.9 tokens; whether the values changed is "
    "unconfirmed, so the catalog marks this source unit_uncertain."
)


def _prefix_cache(key: str, what: str, new: str, old: str, definition: str) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.engine.prefix_cache.{what}",
        unit="{token}",
        instrument=Instrument.COUNTER,
        vantage=Vantage.ENGINE,
        summary=f"Prompt tokens {definition} the engine's local prefix cache.",
        definition=(
            f"Prompt tokens {definition} the local (GPU) prefix cache, counted at scheduling. Hit "
            "ratio = rate(hits) / rate(queries) over a window, never a ratio of lifetime totals."
        ),
        labels=ENGINE_LABELS,
        sources=(
            Source(VLLM, new, versions=between("0.9.2")),
            Source(
                VLLM,
                old,
                versions=between(until="0.12.0"),
                fidelity=Fidelity.UNIT_UNCERTAIN,
                replacement=new,
                note=_PREFIX_UNIT_NOTE,
            ),
            Source(
                VLLM,
                "vllm:gpu_prefix_cache_hit_rate",
                versions=between(until="0.9.2"),
                fidelity=Fidelity.UNAVAILABLE,
                replacement=new,
                note="V0 exposed only a lifetime block hit-rate gauge; counts cannot be recovered.",
            ),
        ),
    )


PREFIX_CACHE_QUERIES = _prefix_cache(
    "prefix_cache_queries",
    "queries",
    "vllm:prefix_cache_queries_total",
    "vllm:gpu_prefix_cache_queries_total",
    "looked up in",
)
PREFIX_CACHE_HITS = _prefix_cache(
    "prefix_cache_hits",
    "hits",
    "vllm:prefix_cache_hits_total",
    "vllm:gpu_prefix_cache_hits_total",
    "found in",
)

KV_CACHE_USAGE = SLI(
    key="kv_cache_usage",
    otel_name="llmslo.engine.kv_cache.usage",
    unit="1",
    instrument=Instrument.GAUGE,
    vantage=Vantage.ENGINE,
    summary="Fraction of the KV cache in use (0-1).",
    definition="Used KV-cache blocks / total KV-cache blocks at the last engine step, as a fraction 0-1 "
    "(vLLM's `_perc` names are fractions too).",
    labels=ENGINE_LABELS,
    sources=(
        Source(VLLM, "vllm:kv_cache_usage_perc", versions=between("0.9.2")),
        Source(
            VLLM,
            "vllm:gpu_cache_usage_perc",
            versions=between(until="0.12.0"),
            replacement="vllm:kv_cache_usage_perc",
        ),
    ),
)


def _gauge(key: str, name: str, metric: str, summary: str, definition: str, note: str = "") -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.engine.{name}",
        unit="{request}",
        instrument=Instrument.GAUGE,
        vantage=Vantage.ENGINE,
        summary=summary,
        definition=definition,
        labels=ENGINE_LABELS,
        sources=(Source(VLLM, metric, note=note),),
    )


RUNNING = _gauge(
    "requests_running",
    "requests.running",
    "vllm:num_requests_running",
    "Requests in the running batch.",
    "Requests in model execution batches at the last engine step.",
)
WAITING = _gauge(
    "requests_waiting",
    "requests.waiting",
    "vllm:num_requests_waiting",
    "Requests waiting to be scheduled (queue depth).",
    "Requests queued in the engine core and not yet running, at the last engine step.",
    note="From 0.20.0 this includes deferred requests (capacity + deferred); before, capacity only.",
)

PREEMPTIONS = SLI(
    key="preemptions",
    otel_name="llmslo.engine.preemptions",
    unit="{preemption}",
    instrument=Instrument.COUNTER,
    vantage=Vantage.ENGINE,
    summary="Preemptions of running requests (KV-cache pressure).",
    definition="Counted each time the scheduler evicts a running request to free KV-cache blocks.",
    labels=ENGINE_LABELS,
    sources=(Source(VLLM, "vllm:num_preemptions_total"),),
)

GOODPUT = SLI(
    key="goodput",
    otel_name="llmslo.engine.goodput.requests",
    unit="{request}",
    instrument=Instrument.COUNTER,
    vantage=Vantage.ENGINE,
    summary="Finished requests that met every per-request target of a goodput SLO at once.",
    definition=(
        "Counted once per finished `llm_request` span by the llmslo collector, for each goodput SLO "
        "whose targets it evaluates (label `slo`): `goodput=\"met\"` when every target held for that "
        "request (e.g. TTFT <= 0.5 s and TPOT <= 0.05 s, each read from the span's "
        "`gen_ai.latency.*` attributes with the same definitions as `ttft` and `tpot`), else "
        "`goodput=\"missed\"`. A target that cannot be evaluated for a request (TPOT with one output "
        "token) counts as met. The ratio met / (met + missed) is the goodput SLI; histograms cannot "
        "give it because the targets must hold jointly per request."
    ),
    labels=(*ENGINE_LABELS, "tenant", "slo", "goodput"),
    sources=(Source(TRACE, "llm_request span (gen_ai.latency.*)", versions=between("0.10.2")),),
)

ENGINE_SLIS: tuple[SLI, ...] = (
    TTFT,
    TPOT,
    ITL,
    E2E,
    QUEUE,
    PREFILL,
    DECODE,
    INFERENCE,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    REQUEST_INPUT_TOKENS,
    REQUEST_OUTPUT_TOKENS,
    REQUESTS,
    PREFIX_CACHE_QUERIES,
    PREFIX_CACHE_HITS,
    KV_CACHE_USAGE,
    RUNNING,
    WAITING,
    PREEMPTIONS,
    GOODPUT,
)
