"""The proxy's metrics carry the catalog's names, labels and boundaries, and parse as Prometheus
and OpenMetrics text (exemplars included)."""

from __future__ import annotations

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporters.proxy.exposition import write_openmetrics
from exporters.proxy.measure import Exchange, ModelNames, Outcome
from exporters.proxy.openai import Usage
from exporters.proxy.recorder import Recorder
from slo import catalog
from slo.metrics.write import write_exposition


def _one_stream(recorder: Recorder) -> Exchange:
    ex = Exchange(recorder, ModelNames(), route="chat", tenant="acme", request_id="req-1", start=10.0)
    ex.answered_as("m")
    ex.stream = True
    ex.content_sent(1, 10.5)  # TTFT 0.5
    ex.content_sent(2, 10.6)  # two chunks in one write: gaps 0.1 and 0
    ex.usage = Usage(7, 4)
    ex.finish(Outcome.SUCCESS, 10.8)
    return ex


def test_names_labels_and_boundaries_come_from_the_catalog() -> None:
    recorder = Recorder(namespace="ns", pod="p")
    _one_stream(recorder)
    families, _ = recorder.collect()
    by_name = {f.name: f for f in families}
    for key in ("proxy_ttft", "proxy_itl", "proxy_tpot", "proxy_e2e", "proxy_input_tokens",
                "proxy_output_tokens", "proxy_requests"):
        sli = catalog.get(key)
        family = by_name[sli.prom_name]
        for sample in family.samples:
            names = {k for k, _ in sample.labels} - {"le"}
            assert names == set(sli.labels)
        if sli.boundaries:
            les = [s.label("le") for s in family.samples if s.name.endswith("_bucket")]
            assert [float(x) for x in les[:-1]] == list(sli.boundaries) and les[-1] == "+Inf"


def test_values() -> None:
    recorder = Recorder()
    _one_stream(recorder)
    text = write_exposition(recorder.collect()[0])
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parse_text(text) for s in f.samples}
    base = (("model_name", "m"), ("route", "chat"), ("tenant", "acme"))
    assert samples[("llmslo_proxy_time_to_first_token_seconds_count", base)] == 1
    assert abs(samples[("llmslo_proxy_time_to_first_token_seconds_sum", base)] - 0.5) < 1e-9
    assert samples[("llmslo_proxy_inter_chunk_latency_seconds_count", base)] == 2
    assert samples[("llmslo_proxy_input_tokens_total", base)] == 7
    assert samples[("llmslo_proxy_output_tokens_total", base)] == 4
    assert abs(samples[("llmslo_proxy_time_per_output_token_seconds_sum", base)] - 0.3 / 3) < 1e-9
    with_outcome = tuple(sorted((*base, ("outcome", "success"))))
    assert samples[("llmslo_proxy_requests_total", with_outcome)] == 1
    assert abs(samples[("llmslo_proxy_request_duration_seconds_sum", with_outcome)] - 0.8) < 1e-9


def test_openmetrics_with_exemplars_parses() -> None:
    recorder = Recorder(pod="p")
    _one_stream(recorder)
    families, exemplars = recorder.collect()
    text = write_openmetrics(families, exemplars)
    seen = {
        s.exemplar.labels["request_id"]
        for f in parse_openmetrics(text)
        for s in f.samples
        if s.exemplar is not None
    }
    assert seen == {"req-1"}
    assert text.endswith("# EOF\n")


def test_boundary_values_land_in_their_own_bucket() -> None:
    recorder = Recorder()
    child = recorder.ttft.child(("m", "chat", "t"))
    child.observe(0.1)  # le is inclusive
    bounds = catalog.get("proxy_ttft").boundaries
    assert child.counts[bounds.index(0.1)] == 1


def test_families_convert_to_otlp_with_catalog_names() -> None:
    from exporters.otlp import families_to_metrics_data

    recorder = Recorder(pod="p")
    _one_stream(recorder)
    data = families_to_metrics_data(recorder.collect()[0], {"service.name": "llmslo-proxy"}, 1, 2)
    metrics = {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}
    assert set(metrics) == {catalog.get(k).otel_name for k in (
        "proxy_ttft", "proxy_itl", "proxy_tpot", "proxy_e2e", "proxy_input_tokens", "proxy_output_tokens",
        "proxy_requests")}
    ttft = metrics["llmslo.proxy.time_to_first_token"].data.data_points[0]  # type: ignore[union-attr]
    assert list(ttft.explicit_bounds) == list(catalog.get("proxy_ttft").boundaries) and ttft.count == 1
