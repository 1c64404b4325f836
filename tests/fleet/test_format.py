"""The simulated /metrics is vLLM 0.32's format: checked against the real captures, not against
our own idea of it, and mapped by llmslo's vLLM pipeline exactly as the real capture is."""

from __future__ import annotations

import pytest

from bench.fleet.template import TEMPLATE_PATH, TemplateError, compile_layout
from exporters.pipeline import VLLM, process
from fleet.helpers import CAPTURES, fleet_at, real_capture
from slo.metrics.model import MetricFamily, MetricType
from slo.metrics.parse import parse_exposition


def _shape(families: dict[str, MetricFamily]) -> dict[str, tuple[MetricType, str, frozenset[tuple[str, ...]]]]:
    """Per family: type, HELP and the label-key sets of its samples (model/engine values aside)."""
    return {
        name: (fam.type, fam.help, frozenset(tuple(k for k, _ in s.labels) for s in fam.samples))
        for name, fam in families.items()
    }


def _bounds(families: dict[str, MetricFamily]) -> dict[str, tuple[str, ...]]:
    out = {}
    for name, fam in families.items():
        if fam.type is MetricType.HISTOGRAM:
            les = [s.label("le") for s in fam.samples if s.name.endswith("_bucket")]
            out[name] = tuple(dict.fromkeys(les))
    return out


@pytest.fixture(scope="module")
def simulated() -> list[str]:
    fleet = fleet_at(pods=6, seed=11, seconds=120)  # two pods of each default model
    return [fleet.metrics(i) for i in range(6)]


def test_bundled_template_is_the_real_capture_byte_for_byte() -> None:
    assert TEMPLATE_PATH.read_bytes() == real_capture().encode()


@pytest.mark.parametrize("capture", CAPTURES)
def test_families_types_help_labels_and_buckets_match_each_real_capture(capture: str, simulated: list[str]) -> None:
    real = parse_exposition(real_capture(capture))
    assert real.ok
    for body in simulated:
        sim = parse_exposition(body, require_final_newline=True)
        assert sim.ok, sim.errors[:3]
        assert list(sim.families) == list(real.families)  # same families, same order
        assert _shape(dict(sim.families)) == _shape(dict(real.families))
        assert _bounds(dict(sim.families)) == _bounds(dict(real.families))


def test_series_identity_matches_the_template_except_model_name(simulated: list[str]) -> None:
    real = parse_exposition(real_capture()).families
    for body in simulated:
        sim = parse_exposition(body).families
        models = {s.label("model_name") for f in sim.values() for s in f.samples} - {""}
        assert len(models) == 1 and "tiny" not in models
        for name, fam in sim.items():
            # cache_config_info's capacity labels follow the simulated model's KV cache.
            strip = {"model_name", "num_gpu_blocks", "kv_cache_size_tokens", "kv_cache_max_concurrency"}
            assert [(s.name, tuple(kv for kv in s.labels if kv[0] not in strip)) for s in fam.samples] == \
                [(s.name, tuple(kv for kv in s.labels if kv[0] not in strip)) for s in real[name].samples]


def test_counter_and_created_conventions(simulated: list[str]) -> None:
    for body in simulated:
        fams = parse_exposition(body).families
        for name, fam in fams.items():
            if fam.type is MetricType.COUNTER:
                assert name.endswith("_total")
                if name.startswith("vllm:"):
                    created = fams[name.removesuffix("_total") + "_created"]
                    assert created.type is MetricType.GAUGE
                    start = fams["process_start_time_seconds"].samples[0].value
                    assert all(start < s.value < start + 600 for s in created.samples)


def test_pipeline_maps_simulated_bodies_with_zero_errors_like_the_real_capture(simulated: list[str]) -> None:
    real = process(real_capture(), VLLM)
    assert not real.errors
    for body in simulated:
        result = process(body, VLLM)
        assert not result.errors, result.messages
        assert (result.schema.generation, result.schema.versions) == (real.schema.generation, real.schema.versions)
        assert [f.name for f in result.families] == [f.name for f in real.families]
        assert result.epoch is not None


def test_a_bad_template_is_a_located_error() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        compile_layout("# TYPE x counter\nx_total{a=b} 1\n")
    with pytest.raises(TemplateError, match="must carry le"):
        compile_layout('# TYPE h histogram\nh_bucket{le="1.0"} 1\nh_sum 1\nh_count 1\n')
