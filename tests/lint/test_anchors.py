"""Acceptance: slo-lint on the real third-party dashboards and rules in shared/reference/anchors
reports the defects of llm-observability-anchors.md Appendix A, with the right check ids, and
nothing on the dashboards that appendix found clean.

Differences from the appendix, each a true finding: the AIBrix gateway-plugins dashboard averages
15 percentile series (the appendix counted 12 flags); the production-stack vLLM dashboard also
queries `vllm:current_qps` and `vllm:healthy_pods_total`, which no vLLM release exposes (its
router defines them); sloth's generated alerts carry no runbook_url; sloth's OpenSLO example uses
`openslo/v1alpha`, which llmslo's spec loader does not read, and a 30-day window (over Prometheus'
default 15-day retention)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from support.captures import SHARED_FIXTURES

from slo.lint import lint_paths
from slo.lint.cli import main

ANCHORS = SHARED_FIXTURES.parent / "reference" / "anchors"

EXPECTED: dict[str, dict[tuple[str, str], int]] = {
    # "averaging percentiles across pods"
    "aibrix__observability__grafana__AIBrix_Envoy_Gateway_Plugins_Dashboard.json": {
        ("promql/averaged-percentile", "e2e_request_latency_seconds_p50"): 2,
        ("promql/averaged-percentile", "e2e_request_latency_seconds_p90"): 2,
        ("promql/averaged-percentile", "e2e_request_latency_seconds_p99"): 2,
        ("promql/averaged-percentile", "http_request_duration_seconds_p50"): 1,
        ("promql/averaged-percentile", "http_request_duration_seconds_p90"): 1,
        ("promql/averaged-percentile", "http_request_duration_seconds_p99"): 1,
        ("promql/averaged-percentile", "request_inference_time_seconds_p50"): 1,
        ("promql/averaged-percentile", "request_inference_time_seconds_p90"): 1,
        ("promql/averaged-percentile", "request_inference_time_seconds_p99"): 1,
        ("promql/averaged-percentile", "iteration_tokens_total_p50"): 1,
        ("promql/averaged-percentile", "iteration_tokens_total_p90"): 1,
        ("promql/averaged-percentile", "iteration_tokens_total_p99"): 1,
    },
    # removed names: 5 gauges, and time_per_output_token_seconds in 6 queries (11 flags)
    "aibrix__observability__grafana__AIBrix_vLLM_Engine_Dashboard.json": {
        ("metric/removed", "vllm:cpu_cache_usage_perc"): 1,
        ("metric/removed", "vllm:cpu_prefix_cache_hit_rate"): 1,
        ("metric/removed", "vllm:gpu_cache_usage_perc"): 1,
        ("metric/removed", "vllm:gpu_prefix_cache_hit_rate"): 1,
        ("metric/removed", "vllm:num_requests_swapped"): 1,
        ("metric/removed", "vllm:time_per_output_token_seconds_bucket"): 4,
        ("metric/removed", "vllm:time_per_output_token_seconds_sum"): 2,
    },
    # removed vllm:time_per_output_token_seconds (3)
    "llm-d__docs__infrastructure__providers__digitalocean__monitoring__inference-gateway-dashboard.json": {
        ("metric/removed", "vllm:time_per_output_token_seconds_bucket"): 3,
    },
    # rate(vllm:num_preemptions[5m]): the counter is vllm:num_preemptions_total
    "llm-d__guides__recipes__observability__grafana__dashboards__llm-d-failure-saturation-dashboard.json": {
        ("promql/counter-without-total", "vllm:num_preemptions"): 1,
    },
    # vllm:nixl_num_failed_transfers without _total
    "llm-d__guides__recipes__observability__grafana__dashboards__llm-d-pd-coordinator-metrics.json": {
        ("promql/counter-without-total", "vllm:nixl_num_failed_transfers"): 1,
    },
    # TTFT quantiles without sum by (le) (3); hit rate as lifetime counter ratios (2)
    "llm-d__guides__recipes__observability__grafana__dashboards__llm-d-performance-kv-cache.json": {
        ("promql/lifetime-ratio", "vllm:prefix_cache_hits_total"): 2,
        ("promql/quantile-without-le", "vllm:time_to_first_token_seconds_bucket"): 3,
    },
    # lifetime average TTFT
    "production-stack__helm__dashboards__lmcache-dashboard.json": {
        ("promql/lifetime-ratio", "vllm:time_to_first_token_seconds_sum"): 1,
    },
    # avg(_sum)/avg(_count) (2), raw cumulative buckets (2), lifetime hit-rate ratio on retired names
    "production-stack__helm__dashboards__vllm-dashboard.json": {
        ("metric/removed", "vllm:gpu_prefix_cache_hits_total"): 1,
        ("metric/removed", "vllm:gpu_prefix_cache_queries_total"): 1,
        ("metric/unknown", "vllm:current_qps"): 1,
        ("metric/unknown", "vllm:healthy_pods_total"): 1,
        ("promql/bucket-without-rate", "vllm:e2e_request_latency_seconds_bucket"): 1,
        ("promql/bucket-without-rate", "vllm:time_to_first_token_seconds_bucket"): 1,
        ("promql/lifetime-ratio", "vllm:e2e_request_latency_seconds_sum"): 1,
        ("promql/lifetime-ratio", "vllm:gpu_prefix_cache_hits_total"): 1,
        ("promql/lifetime-ratio", "vllm:request_time_per_output_token_seconds_sum"): 1,
    },
    # sloth's OpenSLO example is v1alpha (llmslo reads openslo/v1) and keeps a 30d window
    "openslo-getting-started.yml": {
        ("spec/schema", "openslo/v1alpha"): 1,
        ("spec/window-retention", "retention:"): 1,
    },
    "getting-started.yml": {("alert/missing-runbook", "MyServiceHighErrorRate"): 2},
    "kubernetes-apiserver.yml": {
        ("alert/missing-runbook", "K8sApiserverAvailabilityAlert"): 2,
        ("alert/missing-runbook", "K8sApiserverLatencyAlert"): 2,
    },
}


def _subject(message: str) -> str:
    m = re.search(r"`([^`]+)`", message) or re.search(r"'([^']+)'", message)
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def anchor_findings() -> dict[str, Counter[tuple[str, str]]]:
    assert ANCHORS.is_dir(), f"{ANCHORS} is missing (shared/reference beside the repo)"
    result = lint_paths([str(ANCHORS)])
    assert len(result.files) >= 24
    out: dict[str, Counter[tuple[str, str]]] = {}
    for f in result.findings:
        out.setdefault(Path(f.path).name, Counter())[(f.check_id, _subject(f.message))] += 1
    return out


def test_reports_the_appendix_a_defects(anchor_findings: dict[str, Counter[tuple[str, str]]]) -> None:
    assert {name: dict(c) for name, c in anchor_findings.items()} == EXPECTED


def test_dashboards_the_appendix_found_clean_stay_clean(
    anchor_findings: dict[str, Counter[tuple[str, str]]],
) -> None:
    clean = [p.name for p in (ANCHORS / "dashboards").glob("*.json") if p.name not in EXPECTED]
    assert len(clean) == 10  # vLLM, dcgm, GIE, llm-d x3, production-stack model metrics, AIBrix x3
    assert not [name for name in clean if name in anchor_findings]


def test_cli_on_anchors_exits_1_and_prints_located_findings(capsys: pytest.CaptureFixture[str]) -> None:
    name = "llm-d__guides__recipes__observability__grafana__dashboards__llm-d-performance-kv-cache.json"
    path = ANCHORS / "dashboards" / name
    assert main([str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5
    lines = path.read_text().splitlines()
    for row in out:
        file, line, _col, check, _ = row.split(":", 4)
        assert file == str(path)
        assert '"expr"' in lines[int(line) - 1]
        assert check.strip() in ("promql/quantile-without-le", "promql/lifetime-ratio")
