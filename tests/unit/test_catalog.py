from __future__ import annotations

import re

import pytest

from slo import catalog
from slo.catalog import CATALOG, Fidelity, Instrument, SourceKind, Vantage
from slo.catalog import boundaries as b
from slo.catalog.naming import prometheus_name

PROM_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def test_keys_and_names_are_unique() -> None:
    keys = [s.key for s in CATALOG]
    names = [s.prom_name for s in CATALOG]
    otel = [s.otel_name for s in CATALOG]
    assert len(set(keys)) == len(keys)
    assert len(set(names)) == len(names)
    assert len(set(otel)) == len(otel)


@pytest.mark.parametrize("sli", CATALOG, ids=lambda s: s.key)
def test_entry_is_complete(sli: catalog.SLI) -> None:
    assert PROM_NAME.match(sli.prom_name)
    assert sli.definition and sli.summary and sli.labels and sli.sources
    if sli.instrument is Instrument.HISTOGRAM:
        assert sli.boundaries == tuple(sorted(set(sli.boundaries))), "sorted, no duplicates"
        assert sli.unit in ("s", "{token}")
    else:
        assert sli.boundaries == ()
    if sli.instrument is Instrument.COUNTER:
        assert sli.prom_name.endswith("_total")
    for src in sli.sources:
        assert not src.versions.is_empty()
        if src.fidelity is Fidelity.UNAVAILABLE:
            assert src.note, "an unavailable source must say why"


def test_semconv_names_where_they_exist() -> None:
    assert catalog.get("ttft").prom_name == "gen_ai_server_time_to_first_token_seconds"
    assert catalog.get("tpot").prom_name == "gen_ai_server_time_per_output_token_seconds"
    assert catalog.get("e2e").prom_name == "gen_ai_server_request_duration_seconds"
    ours = [s for s in CATALOG if not s.otel_name.startswith("gen_ai.")]
    assert all(s.otel_name.startswith("llmslo.") for s in ours)


@pytest.mark.parametrize(
    ("otel", "unit", "instrument", "expected"),
    [
        pytest.param("a.b", "s", Instrument.HISTOGRAM, "a_b_seconds", id="seconds"),
        pytest.param("a.b", "1", Instrument.GAUGE, "a_b_ratio", id="ratio-gauge"),
        pytest.param("a.b", "{token}", Instrument.COUNTER, "a_b_total", id="annotation-unit"),
        pytest.param("a.energy", "J", Instrument.COUNTER, "a_energy_joules_total", id="joules-counter"),
        pytest.param("a.b_seconds", "s", Instrument.HISTOGRAM, "a_b_seconds", id="no-double-suffix"),
        pytest.param("a-b", "By", Instrument.GAUGE, "a_b_bytes", id="invalid-char"),
    ],
)
def test_prometheus_name(otel: str, unit: str, instrument: Instrument, expected: str) -> None:
    assert prometheus_name(otel, unit, instrument) == expected


def test_canonical_boundaries_contain_every_vllm_and_semconv_default() -> None:
    expectations = {
        "ttft": (b.VLLM_TTFT, b.SEMCONV_TTFT, b.VLLM_V0_TTFT),
        "tpot": (b.VLLM_INTER_TOKEN_LATENCY, b.SEMCONV_TPOT, b.VLLM_V0_TPOT),
        "itl": (b.VLLM_INTER_TOKEN_LATENCY, b.VLLM_V0_TPOT),
        "e2e": (b.VLLM_REQUEST_LATENCY, b.SEMCONV_DURATION, b.VLLM_V0_E2E),
        "queue": (b.VLLM_REQUEST_LATENCY,),
        "prefill": (b.VLLM_REQUEST_LATENCY,),
        "decode": (b.VLLM_REQUEST_LATENCY,),
        "request_input_tokens": (b.one_two_five(1024), b.one_two_five(131072), b.SEMCONV_TOKEN_USAGE),
        "proxy_ttft": (b.VLLM_TTFT, b.SEMCONV_TTFT),
    }
    for key, lists in expectations.items():
        grid = set(catalog.get(key).boundaries)
        for lst in lists:
            assert set(lst) <= grid, (key, sorted(set(lst) - grid))


def test_one_two_five_matches_vllm() -> None:
    assert b.one_two_five(1024) == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    assert b.one_two_five(1000) == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def test_neighbours_name_the_nearest_boundaries() -> None:
    assert b.neighbours(0.3, b.TTFT) == (0.25, 0.5)
    assert b.neighbours(0.0001, b.TTFT) == (None, 0.001)
    assert b.neighbours(9999.0, b.TTFT) == (2560.0, None)


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"known: .*ttft"):
        catalog.get("tfft")


def test_every_source_kind_and_vantage_is_used() -> None:
    kinds = {src.kind for s in CATALOG for src in s.sources}
    assert kinds == set(SourceKind)
    assert {s.vantage for s in CATALOG} == set(Vantage)


def test_removed_vllm_names_name_their_replacement() -> None:
    removed = {
        src.metric: src.replacement
        for s in CATALOG
        for src in s.sources
        if src.kind is SourceKind.VLLM and src.versions.until is not None
    }
    assert removed["vllm:gpu_cache_usage_perc"] == "vllm:kv_cache_usage_perc"
    assert removed["vllm:gpu_prefix_cache_hits_total"] == "vllm:prefix_cache_hits_total"
    assert all(removed.values())
