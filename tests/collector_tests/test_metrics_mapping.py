"""OTLP metrics -> canonical SLIs through the same catalog code the sidecars use: a real vLLM 0.32
and a real dcgm-exporter capture, converted as otelcol's prometheus receiver converts a scrape,
must come out exactly as the sidecar pipeline maps the same text."""

from __future__ import annotations

import pytest
from support.captures import DCGM, VLLM_032, read

from collector.exposition import to_families
from exporters.pipeline import DCGM as DCGM_PROFILE
from exporters.pipeline import VLLM, process
from slo.metrics.model import MetricFamily, Sample

from .fixtures import pinned_store, receiver_for
from .promreceiver import scrape_to_otlp

POD = {"k8s.namespace.name": "default", "k8s.pod.name": "cuda-75454ffb9f-8ljq7"}


def collector_families(*requests) -> dict[str, MetricFamily]:  # type: ignore[no-untyped-def]
    store = pinned_store()
    receiver = receiver_for(store)
    for request in requests:
        response = receiver.export_metrics(request)
        assert not response.partial_success.rejected_data_points, response.partial_success.error_message
    return {f.name: f for f in to_families(store.snapshot()) if not f.name.startswith("llmslo_collector_")}


def sorted_samples(family: MetricFamily) -> list[Sample]:
    return sorted(family.samples, key=lambda s: (s.name, s.labels))


@pytest.mark.parametrize("trim_total", [True, False], ids=["normalized-names", "raw-names"])
@pytest.mark.parametrize("capture", sorted(VLLM_032.glob("*.prom")), ids=lambda p: p.name)
def test_vllm_capture_maps_like_the_sidecar(capture, trim_total: bool) -> None:  # type: ignore[no-untyped-def]
    text = read(capture)
    request = scrape_to_otlp(text, job="vllm", instance="10.0.0.7:8000", resource=POD, trim_total=trim_total)
    got = collector_families(request)
    expected = process(text, VLLM, extra_labels=(("namespace", "default"), ("pod", "cuda-75454ffb9f-8ljq7")),
                       live=False).families
    assert expected
    assert sorted(got) == sorted(f.name for f in expected)
    for family in expected:
        assert sorted_samples(got[family.name]) == sorted_samples(family), family.name


def test_dcgm_capture_maps_like_the_sidecar_and_joins_the_model() -> None:
    text = read(DCGM)
    dcgm = scrape_to_otlp(text, job="dcgm-exporter", instance="10.0.0.9:9400")
    expected = {f.name: f for f in process(text, DCGM_PROFILE, live=False).families}
    assert expected
    alone = collector_families(dcgm)
    for name, family in expected.items():
        assert sorted_samples(alone[name]) == sorted_samples(family), name
    # Once the pod's vLLM metrics were seen, its GPU series say which model runs there.
    vllm = scrape_to_otlp(read(VLLM_032 / "metrics-after-21-requests.prom"), job="vllm", instance="10.0.0.7:8000",
                          resource=POD)
    joined = collector_families(vllm, dcgm)
    util = joined["llmslo_gpu_utilization_ratio"]
    assert util.samples and all(s.label("model_name") == "tiny" for s in util.samples)


def test_engine_restart_keeps_counters_monotonic() -> None:
    after_21 = read(VLLM_032 / "metrics-after-21-requests.prom")
    after_1 = read(VLLM_032 / "metrics-idle-after-1-request.prom")  # lower totals: what a restart looks like
    first = scrape_to_otlp(after_21, job="vllm", instance="a", resource=POD)
    second = scrape_to_otlp(after_1, job="vllm", instance="a", resource=POD)
    before = collector_families(first)["llmslo_engine_output_tokens_total"].samples[0].value
    restarted = process(after_1, VLLM, live=False).families
    fresh = next(f for f in restarted if f.name == "llmslo_engine_output_tokens_total").samples[0].value
    assert 0 < fresh < before
    after = collector_families(first, second)["llmslo_engine_output_tokens_total"].samples[0].value
    assert after == before + fresh


def test_delta_points_accumulate_and_stale_markers_are_skipped() -> None:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

    text = read(VLLM_032 / "metrics-after-21-requests.prom")
    request = scrape_to_otlp(text, job="vllm", instance="a", resource=POD)
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        if metric.WhichOneof("data") == "sum":
            metric.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    once = collector_families(request)["llmslo_engine_input_tokens_total"].samples[0].value
    twice = collector_families(request, request)["llmslo_engine_input_tokens_total"].samples[0].value
    assert twice == 2 * once > 0
    stale = scrape_to_otlp(text, job="vllm", instance="a", resource=POD)
    for metric in stale.resource_metrics[0].scope_metrics[0].metrics:
        if metric.WhichOneof("data") == "sum":
            for p in metric.sum.data_points:
                p.flags = 1  # NO_RECORDED_VALUE: the target went away
    assert collector_families(request, stale)["llmslo_engine_input_tokens_total"].samples[0].value == once
