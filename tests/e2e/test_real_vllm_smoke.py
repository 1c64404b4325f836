"""The real vLLM the e2e tier relies on starts, streams exactly the tokens asked for, and counts them."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.real_vllm import VllmServer, stream_chat_completion, stream_completion

pytestmark = pytest.mark.e2e

TTFT_COUNT = "vllm:time_to_first_token_seconds_count"


def ttft_count(server: VllmServer) -> float:
    """vLLM's TTFT histogram count for the served model on engine 0 (one per finished request)."""
    text = httpx.get(server.metrics_url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == TTFT_COUNT and sample.labels == {"engine": "0", "model_name": server.model}:
                return sample.value
    raise AssertionError(f"{TTFT_COUNT} for engine 0 and model {server.model} not in {server.metrics_url}")


def test_streamed_completions_have_exact_length_and_are_counted(real_vllm: VllmServer) -> None:
    before = ttft_count(real_vllm)
    for max_tokens in (5, 8, 13):
        result = stream_completion(real_vllm, "The quick brown fox", max_tokens)
        # ignore_eos: random weights would otherwise stop at a random EOS.
        assert result.completion_tokens == max_tokens
        assert result.prompt_tokens > 0
        assert result.text
    after = ttft_count(real_vllm)
    assert after >= 3
    assert after - before >= 3


def test_streamed_chat_completion_has_exact_length(real_vllm: VllmServer) -> None:
    result = stream_chat_completion(real_vllm, "Tell me a story.", 7)
    assert result.completion_tokens == 7
    assert len(result.arrival_s) == len(result.chunks)
