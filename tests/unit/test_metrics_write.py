"""The exposition writer: exact bytes, prometheus_client's formatting, and parse/write
round trips on the real captures."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from slo.metrics.model import MetricFamily, MetricType, Sample
from slo.metrics.parse import parse_exposition
from slo.metrics.write import format_float, write_exposition

from .test_metrics_parse import ALL_FIXTURES, fixture_text

LABELS = (("engine", "0"), ("model_name", "tiny"))


def test_exact_bytes() -> None:
    """Families out of order, samples out of order, escapes everywhere: one fixed text."""
    latency = "vllm:e2e_request_latency_seconds"
    families = [
        MetricFamily(
            latency,
            MetricType.HISTOGRAM,
            "End to end.\nIn seconds, C:\\x.",
            (
                Sample(latency + "_sum", LABELS, 12.5),
                Sample(latency + "_bucket", (("engine", "0"), ("le", "+Inf"), ("model_name", "tiny")), 3.0),
                Sample(latency + "_count", LABELS, 3.0),
                Sample(latency + "_bucket", (("engine", "0"), ("le", "10.0"), ("model_name", "tiny")), 2.0),
                Sample(latency + "_bucket", (("engine", "0"), ("le", "2.5"), ("model_name", "tiny")), 1.0),
                Sample(latency + "_bucket", (("engine", "0"), ("le", "+Inf")), 0.0),
                Sample(latency + "_count", (("engine", "0"),), 0.0),
                Sample(latency + "_sum", (("engine", "0"),), 0.0),
            ),
        ),
        MetricFamily(
            "vllm:prompt_tokens_total",
            MetricType.COUNTER,
            "Prefill tokens.",
            (
                Sample("vllm:prompt_tokens_total", (("model_name", 'a "b" \\c\nd'),), 1234567.0),
                Sample("vllm:prompt_tokens_total", (("model_name", "a"),), 0),
            ),
        ),
        MetricFamily(
            "vllm:num_requests_running",
            MetricType.GAUGE,
            "",
            (Sample("vllm:num_requests_running", LABELS, math.nan),),
        ),
        MetricFamily("untouched", MetricType.UNTYPED, "No samples.", ()),
    ]
    assert write_exposition(families) == (
        "# HELP untouched No samples.\n"
        "# TYPE untouched untyped\n"
        "# HELP vllm:e2e_request_latency_seconds End to end.\\nIn seconds, C:\\\\x.\n"
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf"} 0.0\n'
        'vllm:e2e_request_latency_seconds_count{engine="0"} 0.0\n'
        'vllm:e2e_request_latency_seconds_sum{engine="0"} 0.0\n'
        'vllm:e2e_request_latency_seconds_bucket{engine="0",le="2.5",model_name="tiny"} 1.0\n'
        'vllm:e2e_request_latency_seconds_bucket{engine="0",le="10.0",model_name="tiny"} 2.0\n'
        'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="tiny"} 3.0\n'
        'vllm:e2e_request_latency_seconds_count{engine="0",model_name="tiny"} 3.0\n'
        'vllm:e2e_request_latency_seconds_sum{engine="0",model_name="tiny"} 12.5\n'
        "# HELP vllm:num_requests_running \n"
        "# TYPE vllm:num_requests_running gauge\n"
        'vllm:num_requests_running{engine="0",model_name="tiny"} NaN\n'
        "# HELP vllm:prompt_tokens_total Prefill tokens.\n"
        "# TYPE vllm:prompt_tokens_total counter\n"
        'vllm:prompt_tokens_total{model_name="a"} 0.0\n'
        'vllm:prompt_tokens_total{model_name="a \\"b\\" \\\\c\\nd"} 1.234567e+06\n'
    )


def test_summary_order() -> None:
    """Quantiles ascending (numerically), then _count, then _sum, per label set."""
    samples = (
        Sample("s_sum", (), 1.0),
        Sample("s", (("quantile", "0.99"),), 0.3),
        Sample("s_count", (), 2.0),
        Sample("s", (("quantile", "0.5"),), 0.1),
    )
    text = write_exposition([MetricFamily("s", MetricType.SUMMARY, "S.", samples)])
    assert text.splitlines()[2:] == ['s{quantile="0.5"} 0.1', 's{quantile="0.99"} 0.3', "s_count 2.0", "s_sum 1.0"]


def test_empty() -> None:
    assert write_exposition([]) == ""


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -0.0,
        1.0,
        1,
        -1.5,
        0.1,
        1e-7,
        123456.0,
        1234567.0,
        1e6,
        1e16,
        1.5e16,
        12345678.9,
        2.177019904e9,
        1.7954262461043122e09,
        5e-324,
        1.7976931348623157e308,
        -1e22,
        math.inf,
        -math.inf,
        math.nan,
    ],
)
def test_format_float_matches_prometheus_client(value: float) -> None:
    assert format_float(value) == floatToGoString(value)


class _Collector(Collector):
    """Families in name order, shaped as prometheus_client writes them (no `_created`)."""

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily("app_requests", "Requests\\served.", labels=["code"])
        counter.add_metric(["200"], 10)
        counter.add_metric(["500"], 1.5e7)
        yield counter
        gauge = GaugeMetricFamily("app_temperature", "Temp\nin C.", labels=["gpu", "where"])
        gauge.add_metric(["0", 'rack "a"\\b'], -3.25)
        yield gauge
        summary = SummaryMetricFamily("app_tokens", "Tokens.", labels=["model"])
        summary.add_metric(["m1"], count_value=3, sum_value=42)
        yield summary
        histogram = HistogramMetricFamily("app_ttft_seconds", "TTFT.", labels=["model"])
        histogram.add_metric(["m1"], [("0.005", 1), ("0.25", 4), ("10.0", 5), ("+Inf", 6)], sum_value=7.5)
        histogram.add_metric(["m2"], [("0.005", 0), ("0.25", 0), ("10.0", 0), ("+Inf", 0)], sum_value=0)
        yield histogram


def test_mirrors_prometheus_client_generate_latest() -> None:
    registry = CollectorRegistry()
    registry.register(_Collector())
    expected = generate_latest(registry).decode("utf-8")
    result = parse_exposition(expected, require_final_newline=True)
    assert result.errors == ()
    assert write_exposition(result.families.values()) == expected


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_round_trip(name: str) -> None:
    """parse(write(x)) == x for the captures' families, up to one thing: the writer orders the
    series of a family (by labels, buckets by `le`), while the parser keeps scrape order, and
    vLLM writes children in creation order (`finished_reason="stop"` before `"abort"`)."""
    families = parse_exposition(fixture_text(name)).families
    text = write_exposition(families.values())
    again = parse_exposition(text, require_final_newline=True)
    assert again.errors == ()
    assert list(again.families) == sorted(families)
    for family_name, family in families.items():
        other = again.families[family_name]
        assert (other.name, other.type, other.help) == (family.name, family.type, family.help)
        assert sorted(other.samples, key=_by_series) == sorted(family.samples, key=_by_series)
    assert write_exposition(again.families.values()) == text


def test_fixture_round_trip_is_exact_where_order_is_canonical() -> None:
    families = parse_exposition(fixture_text("vllm-v0-metrics-opt125m.prom")).families
    assert parse_exposition(write_exposition(families.values())).families == families


def _by_series(sample: Sample) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (sample.name, sample.labels)
