"""Which vLLM release range a family's presence implies (reference/vllm-metrics.md, from diffing
every release wheel 0.8.5-0.33.0 and V0's vllm/engine/metrics.py in 0.6.0-0.10.2).

Only presence is evidence: many families are registered lazily or behind flags, so an absent
name proves nothing. A present name bounds the version from below (first release with it) and,
for removed names, from above.
"""

from __future__ import annotations

from slo.catalog.versions import VersionRange, between

# Exposed family name (counters with `_total`) -> releases that expose it.
VLLM_MARKERS: dict[str, VersionRange] = {
    # V1-era additions
    "vllm:kv_cache_usage_perc": between("0.9.2"),
    "vllm:prefix_cache_queries_total": between("0.9.2"),
    "vllm:prefix_cache_hits_total": between("0.9.2"),
    "vllm:inter_token_latency_seconds": between("0.10.2"),
    "vllm:request_time_per_output_token_seconds": between("0.11.0"),
    "vllm:engine_sleep_state": between("0.11.1"),
    "vllm:external_prefix_cache_queries_total": between("0.11.1"),
    "vllm:mm_cache_queries_total": between("0.11.1"),
    "vllm:kv_block_lifetime_seconds": between("0.12.0"),
    "vllm:request_prefill_kv_computed_tokens": between("0.13.0"),
    "vllm:prompt_tokens_cached_total": between("0.16.0"),
    "vllm:prompt_tokens_by_source_total": between("0.16.0"),
    "vllm:prompt_tokens_recomputed_total": between("0.16.0", "0.20.0"),
    "vllm:estimated_flops_per_gpu_total": between("0.17.0"),
    "vllm:num_requests_waiting_by_reason": between("0.20.0"),
    "vllm:request_num_preemptions": between("0.30.0"),
    "vllm:admission_rejections_total": between("0.32.0"),
    "vllm:prompt_tokens_cached_by_source_total": between("0.32.0"),
    "vllm:num_requests_kv_fetch_by_stage": between("0.32.0"),
    # renamed or removed
    "vllm:gpu_cache_usage_perc": between(until="0.12.0"),
    "vllm:gpu_prefix_cache_queries_total": between(until="0.12.0"),
    "vllm:gpu_prefix_cache_hits_total": between(until="0.12.0"),
    "vllm:time_per_output_token_seconds": between(until="0.15.0"),
    # V0-only
    "vllm:num_requests_swapped": between(until="0.9.2"),
    "vllm:cpu_cache_usage_perc": between(until="0.9.2"),
    "vllm:cpu_prefix_cache_hit_rate": between(until="0.9.2"),
    "vllm:gpu_prefix_cache_hit_rate": between(until="0.9.2"),
    "vllm:time_in_queue_requests": between(until="0.9.2"),
    "vllm:avg_prompt_throughput_toks_per_s": between(until="0.7.0"),
    "vllm:avg_generation_throughput_toks_per_s": between(until="0.7.0"),
    "vllm:request_params_best_of": between(until="0.6.6"),
}

# The V0 engine (no `engine` label) was removed in 0.11.0.
V0_RANGE = between(until="0.11.0")
