"""Histogram bucket boundaries: the ones vLLM and the OTel GenAI conventions use, and our unions.

Every canonical boundary list is the sorted union of the semconv advisory boundaries and every
default boundary vLLM has shipped for the same quantity. That is what makes re-bucketing exact:
a source histogram whose boundaries are all canonical keeps all of them, so nothing is ever
interpolated (see slo.mapping.rebucket). Sources: reference/vllm-metrics.md (vllm/v1/metrics/buckets.py,
0.33.0, unchanged since 0.9.0; older V0 lists are prefixes of these) and reference/
llm-observability-anchors.md section (b) (semantic-conventions docs/gen-ai/gen-ai-metrics.md).
"""

from __future__ import annotations

from collections.abc import Iterable

Boundaries = tuple[float, ...]

# vLLM defaults (vllm/v1/metrics/buckets.py).
VLLM_TTFT: Boundaries = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)
VLLM_INTER_TOKEN_LATENCY: Boundaries = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
)
VLLM_REQUEST_LATENCY: Boundaries = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
)
# Older V0 engines (<= 0.6) used shorter lists; they are all subsets of the ones above.
VLLM_V0_TTFT: Boundaries = VLLM_TTFT[: VLLM_TTFT.index(10.0) + 1]
VLLM_V0_TPOT: Boundaries = VLLM_INTER_TOKEN_LATENCY[: VLLM_INTER_TOKEN_LATENCY.index(2.5) + 1]
VLLM_V0_E2E: Boundaries = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)


def one_two_five(limit: float) -> Boundaries:
    """vLLM's build_1_2_5_buckets(max_model_len): 1, 2, 5, 10, 20, 50, ... up to and including limit."""
    out: list[float] = []
    mantissas = (1, 2, 5)
    exponent = 0
    while True:
        for m in mantissas:
            value = float(m * 10**exponent)
            if value > limit:
                return tuple(out)
            out.append(value)
        exponent += 1


# OTel GenAI semantic conventions (advisory ExplicitBucketBoundaries).
SEMCONV_TTFT: Boundaries = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
SEMCONV_TPOT: Boundaries = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)
SEMCONV_DURATION: Boundaries = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
SEMCONV_TOKEN_USAGE: Boundaries = (
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
)


def union(*lists: Iterable[float]) -> Boundaries:
    return tuple(sorted({float(b) for lst in lists for b in lst}))


# Canonical lists used by every histogram llmslo itself records (proxy, collector) and the grid an
# SLO threshold must fall on.
TTFT: Boundaries = union(VLLM_TTFT, SEMCONV_TTFT)
TIME_PER_TOKEN: Boundaries = union(VLLM_INTER_TOKEN_LATENCY, SEMCONV_TPOT)
REQUEST_DURATION: Boundaries = union(VLLM_REQUEST_LATENCY, SEMCONV_DURATION)
# Queue and prefill time are parts of TTFT, so they also get TTFT's fine sub-second boundaries;
# vLLM's own 0.3 s floor is too coarse to see queueing that matters for a 100 ms TTFT target.
PHASE_DURATION: Boundaries = union(VLLM_REQUEST_LATENCY, SEMCONV_DURATION, VLLM_TTFT)
# 1-2-5 up to 5e7 covers every max_model_len a 1-2-5 list can have been built from.
TOKENS: Boundaries = union(one_two_five(5e7), SEMCONV_TOKEN_USAGE)


def is_boundary(value: float, boundaries: Boundaries) -> bool:
    return value in boundaries


def neighbours(value: float, boundaries: Boundaries) -> tuple[float | None, float | None]:
    """The nearest boundaries below and above `value` (for error messages that help the user)."""
    below = max((b for b in boundaries if b < value), default=None)
    above = min((b for b in boundaries if b > value), default=None)
    return below, above
