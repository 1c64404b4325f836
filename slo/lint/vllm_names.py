"""Every vLLM /metrics family, with its type and the releases that expose it, as data.

Source: reference/vllm-metrics.md (every release wheel 0.8.5-0.33.0 diffed, V0's
vllm/engine/metrics.py read in 0.6.0-0.10.2). Names are the *exposed* family names: counters
with `_total` (prometheus_client adds it whatever the code name), histograms and gauges bare.
`since=None` means "already there in the oldest release read". slo.catalog.vllm_markers holds
the presence ranges the sidecar uses; a unit test keeps the two in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.catalog.versions import VersionRange, between


@dataclass(frozen=True, slots=True)
class VllmFamily:
    name: str  # exposed family name
    kind: str  # counter | gauge | histogram | unknown
    versions: VersionRange
    replacement: str = ""  # what to query instead once it is gone ("" = nothing equivalent)
    note: str = ""


def _f(name: str, kind: str, since: str | None = None, until: str | None = None, replacement: str = "",
       note: str = "") -> VllmFamily:
    return VllmFamily(f"vllm:{name}", kind, between(since, until), replacement, note)


C, G, H = "counter", "gauge", "histogram"

FAMILIES: tuple[VllmFamily, ...] = (
    # scheduler / queue
    _f("num_requests_running", G),
    _f("num_requests_waiting", G),
    _f("num_requests_waiting_by_reason", G, "0.20.0"),
    _f("num_requests_kv_fetch_by_stage", G, "0.32.0"),
    _f("engine_sleep_state", G, "0.11.1"),
    _f("admission_rejections_total", C, "0.32.0"),
    _f("lora_requests_info", G),
    # KV cache and prefix cache
    _f("kv_cache_usage_perc", G, "0.9.2"),
    _f("prefix_cache_queries_total", C, "0.9.2"),
    _f("prefix_cache_hits_total", C, "0.9.2"),
    _f("external_prefix_cache_queries_total", C, "0.11.1"),
    _f("external_prefix_cache_hits_total", C, "0.11.1"),
    _f("prompt_tokens_cached_total", C, "0.16.0"),
    _f("prompt_tokens_cached_by_source_total", C, "0.32.0"),
    _f("mm_cache_queries_total", C, "0.11.1"),
    _f("mm_cache_hits_total", C, "0.11.1"),
    _f("kv_block_lifetime_seconds", H, "0.12.0"),
    _f("kv_block_idle_before_evict_seconds", H, "0.12.0"),
    _f("kv_block_reuse_gap_seconds", H, "0.12.0"),
    _f("cache_config_info", G),
    # token counters
    _f("prompt_tokens_total", C),
    _f("prompt_tokens_by_source_total", C, "0.16.0"),
    _f("generation_tokens_total", C),
    _f("num_preemptions_total", C),
    _f("request_success_total", C),
    _f("corrupted_requests_total", C, "0.11.1"),
    _f("watermark_requests_total", C, "0.32.0"),
    # latency histograms
    _f("time_to_first_token_seconds", H),
    _f("inter_token_latency_seconds", H, "0.10.2"),
    _f("request_time_per_output_token_seconds", H, "0.11.0"),
    _f("e2e_request_latency_seconds", H),
    _f("request_queue_time_seconds", H),
    _f("request_prefill_time_seconds", H),
    _f("request_decode_time_seconds", H),
    _f("request_inference_time_seconds", H),
    # size and parameter histograms
    _f("request_prompt_tokens", H),
    _f("request_generation_tokens", H),
    _f("request_prefill_kv_computed_tokens", H, "0.13.0"),
    _f("request_max_num_generation_tokens", H),
    _f("request_params_max_tokens", H),
    _f("request_params_n", H),
    _f("request_num_preemptions", H, "0.30.0"),
    _f("iteration_tokens_total", H, note="a histogram despite the `_total` suffix"),
    # speculative decoding
    _f("spec_decode_num_drafts_total", C),
    _f("spec_decode_num_draft_tokens_total", C),
    _f("spec_decode_num_accepted_tokens_total", C),
    _f("spec_decode_num_accepted_tokens_per_pos_total", C),
    _f("diffusion_num_denoising_steps_total", C, "0.24.0"),
    _f("diffusion_num_canvas_positions_total", C, "0.24.0"),
    _f("diffusion_num_committed_tokens_total", C, "0.24.0"),
    # MFU (code names already end in _total)
    _f("estimated_flops_per_gpu_total", C, "0.17.0"),
    _f("estimated_read_bytes_per_gpu_total", C, "0.17.0"),
    _f("estimated_write_bytes_per_gpu_total", C, "0.17.0"),
    # families outside loggers.py (first release unconfirmed: no lower bound)
    _f("tool_call_parser_invocations_total", C),
    _f("sleep_mode_operation_duration_seconds", H),
    _f("sleep_mode_operations_in_flight", G),
    _f("rl_weight_update_operation_duration_seconds", H),
    _f("rl_weight_update_operations_in_flight", G),
    _f("websocket_connections_active", G),
    _f("websocket_connections_total", C),
    _f("websocket_connection_duration_seconds", H),
    # NIXL KV connector
    _f("nixl_xfer_time_seconds", H),
    _f("nixl_post_time_seconds", H),
    _f("nixl_bytes_transferred", H),
    _f("nixl_num_descriptors", H),
    _f("nixl_num_failed_transfers_total", C),
    _f("nixl_num_failed_notifications_total", C),
    _f("nixl_num_kv_expired_reqs_total", C),
    _f("nixl_num_notifications_after_expiry_total", C),
    # V1-era renames
    _f("gpu_cache_usage_perc", G, until="0.12.0", replacement="vllm:kv_cache_usage_perc"),
    _f("gpu_prefix_cache_queries_total", C, until="0.12.0", replacement="vllm:prefix_cache_queries_total"),
    _f("gpu_prefix_cache_hits_total", C, until="0.12.0", replacement="vllm:prefix_cache_hits_total"),
    _f(
        "time_per_output_token_seconds", H, until="0.15.0", replacement="vllm:inter_token_latency_seconds",
        note="for the per-request TPOT use vllm:request_time_per_output_token_seconds",
    ),
    _f("prompt_tokens_recomputed_total", C, "0.16.0", "0.20.0"),
    # V0 engine
    _f("num_requests_swapped", G, until="0.9.2", note="the V1 engine does not swap"),
    _f("cpu_cache_usage_perc", G, until="0.9.2", note="the V1 engine has no CPU swap space"),
    _f("cpu_prefix_cache_hit_rate", G, until="0.9.2"),
    _f(
        "gpu_prefix_cache_hit_rate", G, until="0.9.2",
        replacement="rate(vllm:prefix_cache_hits_total[5m]) / rate(vllm:prefix_cache_queries_total[5m])",
    ),
    _f("time_in_queue_requests", H, until="0.9.2", replacement="vllm:request_queue_time_seconds"),
    _f("model_forward_time_milliseconds", H, until="0.9.2"),
    _f("model_execute_time_milliseconds", H, until="0.9.2"),
    _f(
        "avg_prompt_throughput_toks_per_s", G, until="0.7.0",
        replacement="rate(vllm:prompt_tokens_total[5m])",
    ),
    _f(
        "avg_generation_throughput_toks_per_s", G, until="0.7.0",
        replacement="rate(vllm:generation_tokens_total[5m])",
    ),
    _f("tokens_total", C, "0.6.6", "0.8.0"),
    _f("request_params_best_of", H, until="0.6.6"),
    _f("spec_decode_draft_acceptance_rate", G, until="0.10.0"),
    _f("spec_decode_efficiency", G, until="0.10.0"),
    _f("spec_decode_num_emitted_tokens_total", C, until="0.10.0"),
)

# Connector families whose members are not all listed in the reference: any name under these
# prefixes is accepted (but nothing about its type is known).
PREFIXES: tuple[str, ...] = (
    "vllm:kv_offload_",
    "vllm:simple_kv_offload_",
    "vllm:mooncake_",
    "vllm:hf3fs_",
    "vllm:hisparse_",
    "vllm:umbp_",
)

BY_NAME: dict[str, VllmFamily] = {f.name: f for f in FAMILIES}
