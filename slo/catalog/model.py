"""The shape of a catalog entry: what an SLI is, exactly, and where each source provides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from slo.catalog.boundaries import Boundaries
from slo.catalog.versions import ANY, VersionRange


class Instrument(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Vantage(StrEnum):
    """Where the measurement is taken. The same word (TTFT) means different intervals at
    different vantages, so vantage is part of an SLI's identity and of its metric name."""

    ENGINE = "engine"  # the inference engine's own clock: vLLM /metrics or its request spans
    PROXY = "proxy"  # llmslo's reverse proxy in the pod: what a client of the pod sees
    GPU = "gpu"  # the device: dcgm-exporter or NVML


class SourceKind(StrEnum):
    VLLM = "vllm"  # vLLM's Prometheus /metrics
    VLLM_TRACE = "vllm-trace"  # vLLM's OTLP `llm_request` span attributes
    DCGM = "dcgm"  # NVIDIA dcgm-exporter /metrics
    NVML = "nvml"  # NVML read through nvidia-ml-py, when no dcgm-exporter runs
    PROXY = "proxy"  # measured by llmslo's proxy itself


class Fidelity(StrEnum):
    """How faithfully a source provides an SLI; reported per mapping in `llmslo_sli_mapping_info`."""

    EXACT = "exact"  # same quantity; histogram boundaries all on the canonical grid
    MERGED = "merged"  # exact counts, but some source boundaries were off-grid and merged upward
    UNIT_UNCERTAIN = "unit_uncertain"  # the source's unit changed across versions we cannot tell apart
    SEMANTICS_DIFFER = "semantics_differ"  # close, but not the same interval or population
    UNAVAILABLE = "unavailable"  # the source does not provide this SLI; nothing is emitted


@dataclass(frozen=True, slots=True)
class LabelDerivation:
    """Adds label `target` computed from the value of label `source` (e.g. outcome from
    vLLM's finished_reason). Unknown source values map to `default`, never to the raw value, so
    the derived label stays bounded."""

    target: str
    source: str
    values: Mapping[str, str]
    default: str


@dataclass(frozen=True, slots=True)
class Source:
    """One way a source provides an SLI. Order within an SLI is preference order: the first
    source whose metric is present wins, and two sources are never added together."""

    kind: SourceKind
    metric: str  # exposed family name (counters with `_total`), span attribute or formula
    versions: VersionRange = ANY
    fidelity: Fidelity = Fidelity.EXACT
    scale: float = 1.0  # multiply values by this to reach the canonical unit
    rename_labels: Mapping[str, str] = field(default_factory=dict)
    derive: tuple[LabelDerivation, ...] = ()
    replacement: str = ""  # for removed names: what to query instead (used by lint and docs)
    note: str = ""


@dataclass(frozen=True, slots=True)
class SLI:
    key: str  # short id used in SLO specs and docs: "ttft", "tpot", ...
    otel_name: str
    unit: str  # UCUM, as in OTel: s, By, W, J, 1, {token}, {request}
    instrument: Instrument
    vantage: Vantage
    summary: str
    definition: str  # exact: from which instant to which, which population
    labels: tuple[str, ...]
    sources: tuple[Source, ...]
    boundaries: Boundaries = ()

    @property
    def prom_name(self) -> str:
        from slo.catalog.naming import prometheus_name

        return prometheus_name(self.otel_name, self.unit, self.instrument)

    def sources_of(self, kind: SourceKind) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.kind == kind)
