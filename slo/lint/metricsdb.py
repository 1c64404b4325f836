"""What a metric name in a query refers to: an llmslo SLI, a vLLM family in the declared
release, a DCGM field, a recording rule of the same lint run, or something we cannot judge.

Only namespaces we have complete facts for are judged (`vllm:`, `llmslo_`, `gen_ai_server_`,
and `_total` on DCGM fields); a name from any other exporter is left alone rather than guessed at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

from slo.catalog import CATALOG, Instrument
from slo.catalog.versions import Version, format_version
from slo.lint import dcgm_names, vllm_names

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# llmslo's sidecars also expose these about themselves (exporters/).
EXPORTER_SELF = (
    "llmslo_exporter_target_up",
    "llmslo_exporter_scrape_errors_total",
    "llmslo_source_schema_info",
    "llmslo_sli_mapping_info",
)
OWN_PREFIXES = ("llmslo_", "gen_ai_server_")
GRAFANA_VAR_PREFIX = "grafana_var_"


class Status(Enum):
    KNOWN = "known"
    UNCHECKED = "unchecked"  # a namespace we hold no complete facts for
    UNKNOWN = "unknown"
    REMOVED = "removed"
    NOT_YET = "not_yet"
    NEEDS_TOTAL = "needs_total"  # a counter queried without `_total`


@dataclass(frozen=True, slots=True)
class Resolution:
    status: Status
    kind: str = "unknown"  # counter | gauge | histogram | unknown: what the family is
    series_kind: str = "unknown"  # counter for a counter or a histogram's _bucket/_sum/_count
    detail: str = ""
    family: str = ""  # the family a series belongs to (a histogram's name without _bucket/_sum/_count)


def _series_forms(name: str, kind: str) -> dict[str, str]:
    """Exposed series name -> series kind, for one family."""
    if kind == "histogram":
        return {name + s: "counter" for s in HISTOGRAM_SUFFIXES}
    if kind == "counter":
        return {name: "counter"}
    return {name: kind}


class MetricsDB:
    def __init__(self, vllm_version: Version, extra: Iterable[str] = ()) -> None:
        self.vllm_version = vllm_version
        self.extra = frozenset(extra)

    @cached_property
    def own(self) -> dict[str, tuple[str, str]]:
        """llmslo series -> (family kind, series kind)."""
        out: dict[str, tuple[str, str]] = {}
        for sli in CATALOG:
            kind = sli.instrument.value
            for series, skind in _series_forms(sli.prom_name, kind).items():
                out[series] = (kind, skind)
            if sli.instrument is Instrument.HISTOGRAM:
                out.setdefault(sli.prom_name, (kind, "histogram"))
        for name in EXPORTER_SELF:
            out[name] = ("counter" if name.endswith("_total") else "gauge",) * 2
        return out

    @cached_property
    def vllm_series(self) -> dict[str, tuple[vllm_names.VllmFamily, str]]:
        out: dict[str, tuple[vllm_names.VllmFamily, str]] = {}
        for fam in vllm_names.FAMILIES:
            for series, skind in _series_forms(fam.name, fam.kind).items():
                out[series] = (fam, skind)
        return out

    def resolve(self, name: str, recorded: frozenset[str] = frozenset()) -> Resolution:
        if name in self.extra or name in recorded:
            return Resolution(Status.KNOWN)
        if name.startswith(GRAFANA_VAR_PREFIX):
            return Resolution(Status.UNCHECKED)
        if name.startswith("vllm:"):
            return self._vllm(name)
        if name.startswith(OWN_PREFIXES):
            # `llmslo_slo:error:ratio_rate5m` is a recording rule: judged only when the run defines it
            return Resolution(Status.UNCHECKED) if ":" in name else self._own(name)
        if name.startswith("DCGM_"):
            return self._dcgm(name)
        return Resolution(Status.UNCHECKED)

    def _own(self, name: str) -> Resolution:
        hit = self.own.get(name)
        if hit is not None:
            if hit[1] == "histogram":
                return Resolution(
                    Status.UNKNOWN, "histogram", "histogram",
                    f"`{name}` is a histogram: query `{name}_bucket`, `_sum` or `_count`",
                )
            return Resolution(Status.KNOWN, hit[0], hit[1])
        total = self.own.get(name + "_total")
        if total is not None and total[1] == "counter":
            return Resolution(Status.NEEDS_TOTAL, "counter", "counter", f"{name}_total")
        return Resolution(Status.UNKNOWN, detail=f"`{name}` is not an llmslo metric (see docs/sli-catalog.md)")

    def _vllm(self, name: str) -> Resolution:
        version = format_version(self.vllm_version)
        hit = self.vllm_series.get(name)
        if hit is None:
            total = self.vllm_series.get(name + "_total")
            if total is not None and total[0].kind == "counter" and total[0].versions.contains(self.vllm_version):
                return Resolution(Status.NEEDS_TOTAL, "counter", "counter", f"{name}_total")
            if name in vllm_names.BY_NAME and vllm_names.BY_NAME[name].kind == "histogram":
                return Resolution(
                    Status.UNKNOWN, "histogram", "histogram",
                    f"`{name}` is a histogram and has no bare series: query `{name}_bucket`, `_sum` or `_count`",
                )
            if name.startswith(vllm_names.PREFIXES):
                return Resolution(Status.KNOWN)
            return Resolution(
                Status.UNKNOWN,
                detail=f"`{name}` is not exposed by any vLLM release 0.6-0.33 (reference/vllm-metrics.md); if "
                "another exporter adds it, list it under extra-metrics in .slo-lint.yaml",
            )
        fam, skind = hit
        rng = fam.versions
        suffix = name[len(fam.name):]
        if rng.until is not None and self.vllm_version >= rng.until:
            replacement = fam.replacement
            if replacement and suffix and "(" not in replacement:
                replacement += suffix
            instead = f"; use `{replacement}` instead" if replacement else "; there is no direct replacement"
            note = f" ({fam.note})" if fam.note else ""
            return Resolution(
                Status.REMOVED, fam.kind, skind,
                f"`{name}` was removed in vLLM {format_version(rng.until)} (declared engine: vLLM {version})"
                f"{instead}{note}",
                fam.name,
            )
        if rng.since is not None and self.vllm_version < rng.since:
            return Resolution(
                Status.NOT_YET, fam.kind, skind,
                f"`{name}` first ships in vLLM {format_version(rng.since)}; the declared engine is vLLM {version}",
                fam.name,
            )
        return Resolution(Status.KNOWN, fam.kind, skind, family=fam.name)

    def _dcgm(self, name: str) -> Resolution:
        if name in dcgm_names.COUNTERS:
            return Resolution(Status.KNOWN, "counter", "counter")
        if name in dcgm_names.GAUGES:
            return Resolution(Status.KNOWN, "gauge", "gauge")
        if name.endswith("_total") and name[: -len("_total")] in dcgm_names.ALL:
            base = name[: -len("_total")]
            return Resolution(
                Status.UNKNOWN,
                detail=f"dcgm-exporter exposes counters without `_total`: query `{base}`",
            )
        return Resolution(Status.UNCHECKED)
