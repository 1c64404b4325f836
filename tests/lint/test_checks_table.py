"""Every query- and rule-level check, with passing and failing cases, through the real CLI path
(files on disk, `lint_paths`). A case passes when the check reports exactly `expected` findings."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import pytest

from slo.catalog.versions import parse_version
from slo.lint import LintConfig

from .builders import dashboard_file, rules_file
from .conftest import LintText


class Case(NamedTuple):
    check: str
    content: str
    expected: int
    name: str = "rules.yaml"
    config: LintConfig | None = None


def rec(expr: str) -> str:
    return rules_file(expr)


ANN_OK = "      summary: s\n      runbook_url: https://runbooks/x\n"
OLD_VLLM = replace(LintConfig(), vllm_version=parse_version("0.11.0"))
SLOW_SCRAPE = replace(LintConfig(), scrape_interval_s=60.0)

CASES = {
    # promql/syntax
    "syntax: valid": Case("promql/syntax", rec("sum(rate(vllm:prompt_tokens_total[5m]))"), 0),
    "syntax: unclosed paren": Case("promql/syntax", rec("sum(rate(vllm:prompt_tokens_total[5m])"), 1),
    "syntax: bad duration": Case("promql/syntax", rec("rate(vllm:prompt_tokens_total[5x])"), 1),
    "syntax: dashboard variables parse": Case(
        "promql/syntax", dashboard_file('rate(vllm:prompt_tokens_total{model_name="$m"}[$__rate_interval])'), 0,
        "d.json"),
    "syntax: broken dashboard query": Case("promql/syntax", dashboard_file("sum by (le (x)"), 1, "d.json"),
    # promql/counter-without-total
    "total: counter with _total": Case("promql/counter-without-total", rec("rate(vllm:num_preemptions_total[5m])"), 0),
    "total: counter without _total": Case("promql/counter-without-total", rec("rate(vllm:num_preemptions[5m])"), 1),
    "total: raw counter without _total": Case(
        "promql/counter-without-total", rec("sum(vllm:nixl_num_failed_transfers) or vector(0)"), 1),
    "total: llmslo counter without _total": Case(
        "promql/counter-without-total", rec("rate(llmslo_engine_output_tokens[5m])"), 1),
    "total: gauge needs none": Case("promql/counter-without-total", rec("vllm:num_requests_running"), 0),
    # promql/quantile-without-le
    "le: sum by (le)": Case(
        "promql/quantile-without-le",
        rec("histogram_quantile(0.9, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"), 0),
    "le: by (le, model) trailing clause": Case(
        "promql/quantile-without-le",
        rec("histogram_quantile(0.9, sum(rate(vllm:time_to_first_token_seconds_bucket[5m])) by (le, model_name))"),
        0),
    "le: no aggregation": Case(
        "promql/quantile-without-le",
        rec("histogram_quantile(0.9, rate(vllm:time_to_first_token_seconds_bucket[5m]))"), 1),
    "le: sum drops le": Case(
        "promql/quantile-without-le",
        rec("histogram_quantile(0.9, sum by (pod) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"), 1),
    "le: without (le)": Case(
        "promql/quantile-without-le",
        rec("histogram_quantile(0.9, sum without (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"), 1),
    "le: recorded buckets": Case(
        "promql/quantile-without-le", rec("histogram_quantile(0.9, job:ttft_bucket:rate5m)"), 0),
    # promql/lifetime-ratio
    "ratio: rates": Case(
        "promql/lifetime-ratio",
        rec("rate(vllm:prefix_cache_hits_total[5m]) / rate(vllm:prefix_cache_queries_total[5m])"), 0),
    "ratio: raw counters": Case(
        "promql/lifetime-ratio", rec("sum(vllm:prefix_cache_hits_total) / sum(vllm:prefix_cache_queries_total)"), 1),
    "ratio: lifetime average": Case(
        "promql/lifetime-ratio",
        rec("avg(vllm:e2e_request_latency_seconds_sum) / avg(vllm:e2e_request_latency_seconds_count)"), 1),
    "ratio: gauges": Case(
        "promql/lifetime-ratio", rec("vllm:num_requests_waiting / vllm:num_requests_running"), 0),
    "ratio: increase over range": Case(
        "promql/lifetime-ratio",
        rec("increase(vllm:prefix_cache_hits_total[1h]) / increase(vllm:prefix_cache_queries_total[1h])"), 0),
    # promql/bucket-without-rate
    "bucket: rated": Case(
        "promql/bucket-without-rate",
        rec("sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[5m]))"), 0),
    "bucket: raw": Case("promql/bucket-without-rate", rec("sum by (le) (vllm:e2e_request_latency_seconds_bucket)"), 1),
    # promql/averaged-percentile
    "pct: max of percentiles": Case(
        "promql/averaged-percentile", rec("max by (model) (e2e_request_latency_seconds_p99)"), 0),
    "pct: quantile of summed buckets": Case(
        "promql/averaged-percentile",
        rec("histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[5m])))"), 0),
    "pct: avg of p99 gauges": Case(
        "promql/averaged-percentile", rec("avg(max by (pod) (e2e_request_latency_seconds_p99))"), 1),
    "pct: avg of per-pod quantiles": Case(
        "promql/averaged-percentile",
        rec("avg(histogram_quantile(0.99, sum by (le, pod) (rate(vllm:e2e_request_latency_seconds_bucket[5m]))))"),
        1),
    "pct: sum of summary quantiles": Case(
        "promql/averaged-percentile", rec('sum(rpc_duration_seconds{quantile="0.99"})'), 1),
    # promql/rate-range-too-short
    "range: 1m at 15s": Case("promql/rate-range-too-short", rec("rate(vllm:prompt_tokens_total[1m])"), 0),
    "range: 30s at 15s": Case("promql/rate-range-too-short", rec("rate(vllm:prompt_tokens_total[30s])"), 1),
    "range: 2m at 60s": Case(
        "promql/rate-range-too-short", rec("rate(vllm:prompt_tokens_total[2m])"), 1, config=SLOW_SCRAPE),
    "range: Grafana sizes $__rate_interval": Case(
        "promql/rate-range-too-short", dashboard_file("rate(vllm:prompt_tokens_total[$__rate_interval])"), 0,
        "d.json", SLOW_SCRAPE),
    # metric/removed
    "removed: current name": Case("metric/removed", rec("vllm:kv_cache_usage_perc"), 0),
    "removed: gpu_cache_usage_perc on 0.33": Case("metric/removed", rec("vllm:gpu_cache_usage_perc"), 1),
    "removed: gpu_cache_usage_perc on 0.11": Case(
        "metric/removed", rec("vllm:gpu_cache_usage_perc"), 0, config=OLD_VLLM),
    "removed: old TPOT histogram, one finding per family": Case(
        "metric/removed",
        rec("rate(vllm:time_per_output_token_seconds_sum[5m]) / rate(vllm:time_per_output_token_seconds_count[5m])"),
        1),
    "removed: V0 swap gauge": Case("metric/removed", rec("vllm:num_requests_swapped"), 1, config=OLD_VLLM),
    # metric/version-mismatch
    "version: TPOT on 0.33": Case(
        "metric/version-mismatch", rec("rate(vllm:request_time_per_output_token_seconds_count[5m])"), 0),
    "version: 0.32 metric on 0.11": Case(
        "metric/version-mismatch", rec("rate(vllm:admission_rejections_total[5m])"), 1, config=OLD_VLLM),
    # metric/unknown
    "unknown: catalog name": Case(
        "metric/unknown", rec("rate(gen_ai_server_time_to_first_token_seconds_count[5m])"), 0),
    "unknown: foreign exporter is not judged": Case("metric/unknown", rec("rate(envoy_cluster_rq_total[5m])"), 0),
    "unknown: typo in vllm name": Case("metric/unknown", rec("vllm:num_request_running"), 1),
    "unknown: typo in llmslo name": Case("metric/unknown", rec("llmslo_engine_requests_runing"), 1),
    "unknown: bare histogram name": Case("metric/unknown", rec("vllm:time_to_first_token_seconds"), 1),
    "unknown: DCGM counter with _total": Case(
        "metric/unknown", rec("rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total[5m])"), 1),
    "unknown: recording rule defined in the run": Case(
        "metric/unknown",
        rules_file("vllm:num_requests_running", name="llmslo_engine_custom") +
        "  - record: y\n    expr: llmslo_engine_custom\n", 0),
    "unknown: extra-metrics in config": Case(
        "metric/unknown", rec("vllm:current_qps"), 0,
        config=replace(LintConfig(), extra_metrics=frozenset({"vllm:current_qps"}))),
    # alert/missing-runbook and alert/missing-summary
    "runbook: present": Case(
        "alert/missing-runbook", rules_file("up == 0", kind="alert", name="Down", annotations=ANN_OK), 0),
    "runbook: missing": Case(
        "alert/missing-runbook",
        rules_file("up == 0", kind="alert", name="Down", annotations="      summary: s\n"), 1),
    "summary: present": Case(
        "alert/missing-summary", rules_file("up == 0", kind="alert", name="Down", annotations=ANN_OK), 0),
    "summary: missing": Case("alert/missing-summary", rules_file("up == 0", kind="alert", name="Down"), 1),
    "summary: recording rules need none": Case("alert/missing-summary", rec("up"), 0),
    # alert/burn-factor-unreachable
    "burn: 14.4 x (1 - 0.999)": Case(
        "alert/burn-factor-unreachable",
        rules_file("slo:sli_error:ratio_rate1h > (14.4 * (1 - 0.999))", kind="alert", name="B", annotations=ANN_OK),
        0),
    "burn: 14.4 x (1 - 0.9)": Case(
        "alert/burn-factor-unreachable",
        rules_file("slo:sli_error:ratio_rate1h > (14.4 * (1 - 0.9))", kind="alert", name="B", annotations=ANN_OK),
        1),
    "burn: precomputed threshold 2.5": Case(
        "alert/burn-factor-unreachable",
        rules_file("job:error_ratio:rate5m > 2.5", kind="alert", name="B", annotations=ANN_OK), 1),
    "burn: burn-rate series compared with a factor": Case(
        "alert/burn-factor-unreachable",
        rules_file("slo:burn_rate:ratio_rate1h > 14.4", kind="alert", name="B", annotations=ANN_OK), 0),
    # alert/label-collision
    "labels: distinct static label": Case(
        "alert/label-collision",
        rules_file("sum by (model_name) (x) > 1", kind="alert", name="A", labels="      severity: page\n",
                   annotations=ANN_OK), 0),
    "labels: static label also grouped by": Case(
        "alert/label-collision",
        rules_file("sum by (model_name, pod) (x) > 1", kind="alert", name="A", labels="      pod: fixed\n",
                   annotations=ANN_OK), 1),
    "labels: duplicate alert": Case(
        "alert/label-collision",
        rules_file("x > 1", kind="alert", name="A", labels="      severity: page\n", annotations=ANN_OK)
        + "  - alert: A\n    expr: y > 1\n    labels:\n      severity: page\n    annotations:\n" + ANN_OK, 1),
    "labels: same name, different severity": Case(
        "alert/label-collision",
        rules_file("x > 1", kind="alert", name="A", labels="      severity: page\n", annotations=ANN_OK)
        + "  - alert: A\n    expr: y > 1\n    labels:\n      severity: ticket\n    annotations:\n" + ANN_OK, 0),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_check_table(case: Case, lint_text: LintText) -> None:
    findings = lint_text(case.content, case.name, case.config)
    mine = [f for f in findings if f.check_id == case.check]
    assert len(mine) == case.expected, "\n".join(f"{f.path}:{f.line}: {f.check_id}: {f.message}" for f in findings)
    assert not [f for f in findings if f.check_id == "input/unreadable"]


def test_every_query_and_rule_check_has_a_passing_and_a_failing_case() -> None:
    from slo.lint.registry import CHECKS

    covered = {c.check for c in CASES.values()}
    table_groups = ("promql/", "metric/", "alert/")
    # alert/tenant-cardinality needs specs; it is tested with the spec checks.
    expected = {cid for cid in CHECKS if cid.startswith(table_groups) and cid != "alert/tenant-cardinality"}
    assert expected <= covered
    for cid in expected:
        outcomes = {c.expected > 0 for c in CASES.values() if c.check == cid}
        assert outcomes == {True, False}, cid


def test_removed_message_names_the_replacement(lint_text: LintText) -> None:
    expr = "histogram_quantile(0.9, sum by (le) (rate(vllm:time_per_output_token_seconds_bucket[5m])))"
    findings = lint_text(rec(expr))
    (removed,) = [f for f in findings if f.check_id == "metric/removed"]
    assert "0.15.0" in removed.message
    assert "vllm:inter_token_latency_seconds_bucket" in removed.message


def test_finding_points_at_the_line_of_the_metric(lint_text: LintText) -> None:
    content = rules_file("sum(\n  rate(vllm:num_preemptions[5m])\n)")
    (f,) = [f for f in lint_text(content) if f.check_id == "promql/counter-without-total"]
    lines = content.splitlines()
    assert "vllm:num_preemptions[" in lines[f.line - 1]
    assert lines[f.line - 1][f.col - 1 :].startswith("vllm:num_preemptions")
