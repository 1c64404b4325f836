"""The vLLM sidecar in front of a REAL vLLM server: the canonical SLIs equal what the engine and
the client saw, exactly."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.real_vllm import CompletionResult, VllmServer, stream_chat_completion, stream_completion

pytestmark = pytest.mark.e2e

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Series:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def total(series: Series, name: str, **match: str) -> float:
    return sum(
        v for (n, labels), v in series.items()
        if n == name and all(dict(labels).get(k) == val for k, val in match.items())
    )


@pytest.fixture
def sidecar_url(vllm_sidecar: str) -> str:
    """The shared sidecar (tests/conftest.py) adds namespace=e2e, pod=vllm-0 to every SLI."""
    return f"http://{vllm_sidecar}/metrics"


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_sidecar_counts_equal_engine_and_client_exactly(real_vllm: VllmServer, sidecar_url: str) -> None:
    before_side = scrape(sidecar_url)
    before_engine = scrape(real_vllm.metrics_url)
    ttft = "gen_ai_server_time_to_first_token_seconds_count"
    out_tokens = "llmslo_engine_output_tokens_total"
    requests = [(stream_completion, "the quick brown fox", n) for n in (3, 7, 12)] + [
        (stream_chat_completion, "hello there", n) for n in (5, 9, 16)
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results: list[CompletionResult] = list(
            pool.map(lambda r: r[0](real_vllm, r[1], r[2]), requests)
        )
    sent = len(requests)
    received_tokens = sum(r.completion_tokens for r in results)
    assert [r.completion_tokens for r in results] == [n for _, _, n in requests]

    # vLLM counts a request as finished just after the last chunk reaches the client.
    def engine_done() -> bool:
        now = scrape(real_vllm.metrics_url)
        return (
            total(now, "vllm:request_success_total") - total(before_engine, "vllm:request_success_total")
            == sent
        )

    wait_for(engine_done)
    after_engine = scrape(real_vllm.metrics_url)
    after_side = scrape(sidecar_url)

    engine_requests = total(after_engine, "vllm:request_success_total") - total(
        before_engine, "vllm:request_success_total"
    )
    side_ttft = total(after_side, ttft) - total(before_side, ttft)
    assert side_ttft == engine_requests == sent
    side_tokens = total(after_side, out_tokens) - total(before_side, out_tokens)
    assert side_tokens == received_tokens
    # and at the same instant the canonical series equal the engine's own, bucket by bucket
    for (name, labels), value in after_engine.items():
        if name == "vllm:time_to_first_token_seconds_bucket":
            key = ("gen_ai_server_time_to_first_token_seconds_bucket",
                   tuple(sorted((*labels, ("namespace", "e2e"), ("pod", "vllm-0")))))
            assert after_side[key] == value, key
    assert total(after_side, "llmslo_engine_requests_total", outcome="success") == total(
        after_engine, "vllm:request_success_total", finished_reason="length"
    ) + total(after_engine, "vllm:request_success_total", finished_reason="stop")
    assert total(after_side, "llmslo_exporter_target_up") == 1
    assert all(
        v == 0 for (n, labels), v in after_side.items()
        if n == "llmslo_exporter_scrape_errors_total"
    )


def test_sidecar_reports_the_detected_schema(real_vllm: VllmServer, sidecar_url: str) -> None:
    series = scrape(sidecar_url)
    schema = [dict(labels) for (n, labels), _ in series.items() if n == "llmslo_source_schema_info"]
    assert schema == [{"source": "vllm", "generation": "v1", "versions": ">=0.32.0", "conflict": "false"}]
    fidelity = {
        dict(labels)["sli"]: dict(labels)["fidelity"]
        for (n, labels), _ in series.items()
        if n == "llmslo_sli_mapping_info"
    }
    assert fidelity["ttft"] == fidelity["tpot"] == fidelity["output_tokens"] == "exact"
