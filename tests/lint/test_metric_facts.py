"""slo-lint's vLLM and llmslo metric facts agree with the catalog's (one truth, two views)."""

from __future__ import annotations

from slo.catalog import CATALOG, Instrument, SourceKind
from slo.catalog.versions import parse_version
from slo.catalog.vllm_markers import VLLM_MARKERS
from slo.lint import vllm_names
from slo.lint.metricsdb import MetricsDB, Status


def test_every_marker_has_the_same_release_range() -> None:
    for name, rng in VLLM_MARKERS.items():
        fam = vllm_names.BY_NAME[name]
        assert fam.versions.until == rng.until, name
        assert fam.versions.since == rng.since, name


def test_every_catalog_vllm_source_is_known_and_replacements_agree() -> None:
    for sli in CATALOG:
        for src in sli.sources_of(SourceKind.VLLM):
            fam = vllm_names.BY_NAME.get(src.metric)
            assert fam is not None, src.metric
            if src.replacement:
                # lint names the catalog's replacement in its message (or, for a formula, uses it)
                assert src.replacement in f"{fam.replacement} {fam.note}", src.metric


def test_every_catalog_series_resolves() -> None:
    db = MetricsDB(parse_version("0.33.0"))
    for sli in CATALOG:
        names = [sli.prom_name + s for s in ("_bucket", "_sum", "_count")] \
            if sli.instrument is Instrument.HISTOGRAM else [sli.prom_name]
        for name in names:
            assert db.resolve(name).status is Status.KNOWN, name


def test_removed_names_resolve_by_version() -> None:
    old, new = MetricsDB(parse_version("0.11.2")), MetricsDB(parse_version("0.12.0"))
    assert old.resolve("vllm:gpu_cache_usage_perc").status is Status.KNOWN
    assert new.resolve("vllm:gpu_cache_usage_perc").status is Status.REMOVED
    assert new.resolve("vllm:time_per_output_token_seconds_bucket").status is Status.KNOWN
    assert MetricsDB(parse_version("0.15.0")).resolve("vllm:time_per_output_token_seconds_bucket").status \
        is Status.REMOVED
