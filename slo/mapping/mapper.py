"""Source families -> canonical SLI families, driven entirely by the catalog.

For every SLI a source kind can provide, the first catalog source whose family is present is
used (preference order), so a scrape that exposes both an old and a new name never counts twice.
Values are scaled to canonical units, labels renamed and derived as the catalog says, and
histograms re-bucketed exactly. Problems are returned as data; nothing here raises on bad input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from slo.catalog import SLI, Fidelity, Instrument, Source, SourceKind, slis_from
from slo.mapping.rebucket import Bucket, HistogramError, rebucket
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import format_float


@dataclass(frozen=True, slots=True)
class MappingNote:
    """Which source provided an SLI and how faithfully (the `llmslo_sli_mapping_info` series)."""

    sli: str
    source_metric: str
    fidelity: Fidelity


@dataclass(frozen=True, slots=True)
class MappingIssue:
    kind: str  # histogram_inconsistent | type_mismatch | invalid_value
    family: str
    message: str


@dataclass(frozen=True, slots=True)
class MappingResult:
    families: tuple[MetricFamily, ...]
    notes: tuple[MappingNote, ...]
    issues: tuple[MappingIssue, ...]


_EXPECTED_TYPES = {
    Instrument.COUNTER: (MetricType.COUNTER, MetricType.UNTYPED),
    Instrument.GAUGE: (MetricType.GAUGE, MetricType.UNTYPED),
    Instrument.HISTOGRAM: (MetricType.HISTOGRAM,),
}
_PROM_TYPE = {
    Instrument.COUNTER: MetricType.COUNTER,
    Instrument.GAUGE: MetricType.GAUGE,
    Instrument.HISTOGRAM: MetricType.HISTOGRAM,
}


@cache
def _plan(kind: SourceKind) -> tuple[tuple[SLI, tuple[Source, ...]], ...]:
    return tuple((sli, sli.sources_of(kind)) for sli in slis_from(kind))


def source_prefixes(kind: SourceKind) -> tuple[str, ...]:
    """Every family name this kind's mapping can read: lets the parser skip the rest cheaply."""
    return tuple(sorted({s.metric for _, sources in _plan(kind) for s in sources}))


def map_to_canonical(
    families: Mapping[str, MetricFamily],
    kind: SourceKind,
    *,
    extra_labels: Labels = (),
) -> MappingResult:
    out: list[MetricFamily] = []
    notes: list[MappingNote] = []
    issues: list[MappingIssue] = []
    for sli, sources in _plan(kind):
        chosen = next(
            (s for s in sources if s.fidelity is not Fidelity.UNAVAILABLE and s.metric in families),
            None,
        )
        if chosen is None:
            seen = next((s.metric for s in sources if s.metric in families), "")
            notes.append(MappingNote(sli.key, seen, Fidelity.UNAVAILABLE))
            continue
        family = families[chosen.metric]
        if family.type not in _EXPECTED_TYPES[sli.instrument]:
            issues.append(
                MappingIssue(
                    "type_mismatch",
                    family.name,
                    f"{family.name} is a {family.type}, expected a {sli.instrument} for SLI {sli.key}",
                )
            )
            notes.append(MappingNote(sli.key, chosen.metric, Fidelity.UNAVAILABLE))
            continue
        relabel = _relabeler(chosen, extra_labels)
        if sli.instrument is Instrument.HISTOGRAM:
            samples, fidelity = _map_histogram(sli, chosen, family, relabel, issues)
        else:
            samples, fidelity = _map_scalar(sli, chosen, family, relabel, issues)
        notes.append(MappingNote(sli.key, chosen.metric, fidelity))
        if samples:
            out.append(MetricFamily(sli.prom_name, _PROM_TYPE[sli.instrument], sli.summary, samples))
    return MappingResult(tuple(out), tuple(notes), tuple(issues))


_RELABELERS: dict[tuple[int, Labels], _Relabeler] = {}


def _relabeler(source: Source, extra: Labels) -> _Relabeler:
    """One per (catalog source, extra labels), kept across calls: a sidecar maps the same series
    every scrape, and the memo inside makes relabelling a dict lookup. Catalog sources live for
    the whole process, so keying by id() is safe and the dict stays as small as the catalog."""
    key = (id(source), extra)
    found = _RELABELERS.get(key)
    if found is None:
        found = _RELABELERS[key] = _Relabeler(source, extra)
    return found


class _Relabeler:
    """Renames, derives and adds labels; memoised because every bucket of a child shares labels."""

    __slots__ = ("_cache", "_extra", "_source")

    def __init__(self, source: Source, extra: Labels) -> None:
        self._source = source
        self._extra = extra
        self._cache: dict[Labels, Labels] = {}

    def __call__(self, labels: Labels) -> Labels:
        hit = self._cache.get(labels)
        if hit is not None:
            return hit
        renames = self._source.rename_labels
        out = {renames.get(k, k): v for k, v in labels}
        # A rename to "" drops the label (no real label has an empty name): labels that would
        # change a series' identity for no reason, such as a driver version, are not kept.
        out.pop("", None)
        for d in self._source.derive:
            out[d.target] = d.values.get(out.get(d.source, ""), d.default)
        for k, v in self._extra:
            out.setdefault(k, v)
        result = make_labels(out)
        self._cache[labels] = result
        return result


def _map_scalar(
    sli: SLI, source: Source, family: MetricFamily, relabel: _Relabeler, issues: list[MappingIssue]
) -> tuple[tuple[Sample, ...], Fidelity]:
    out: list[Sample] = []
    dropped = 0
    for s in family.samples:
        if s.name != family.name:
            continue  # e.g. a stray _created sample grouped under the family
        if sli.instrument is Instrument.COUNTER and (math.isnan(s.value) or s.value < 0):
            issues.append(MappingIssue("invalid_value", family.name, f"counter value {s.value}"))
            dropped += 1
            continue
        out.append(Sample(sli.prom_name, relabel(s.labels), s.value * source.scale))
    # Every series rejected: the SLI is not served, and the mapping info must not claim it is.
    return tuple(out), Fidelity.UNAVAILABLE if dropped and not out else source.fidelity


def _map_histogram(
    sli: SLI, source: Source, family: MetricFamily, relabel: _Relabeler, issues: list[MappingIssue]
) -> tuple[tuple[Sample, ...], Fidelity]:
    children: dict[Labels, tuple[list[Bucket], list[float], list[float]]] = {}
    base = family.name
    for s in family.samples:
        suffix = s.name[len(base):]
        if suffix == "_bucket":
            split = _split_le(s.labels)
            if split is None:
                issues.append(MappingIssue("histogram_inconsistent", base, f"bad or missing le in {s.labels}"))
                continue
            key, le = split
            children.setdefault(key, ([], [], []))[0].append((le, s.value))
        elif suffix == "_count":
            children.setdefault(s.labels, ([], [], []))[1].append(s.value)
        elif suffix == "_sum":
            children.setdefault(s.labels, ([], [], []))[2].append(s.value)
    out: list[Sample] = []
    fidelity = source.fidelity
    name = sli.prom_name
    served = 0
    for key, (buckets, counts, sums) in children.items():
        try:
            if not sums or not counts:
                raise HistogramError("missing _sum or _count")
            result = rebucket(buckets, sli.boundaries, counts[0])
        except HistogramError as exc:
            issues.append(
                MappingIssue("histogram_inconsistent", base, f"{base}{_fmt(key)}: {exc}; child dropped")
            )
            continue
        if result.merged and fidelity is Fidelity.EXACT:
            fidelity = Fidelity.MERGED
        served += 1
        labels = relabel(key)
        bucket_name = f"{name}_bucket"
        for le, value in result.buckets:
            out.append(Sample(bucket_name, _with_le(labels, le), value))
        out.append(Sample(f"{name}_count", labels, counts[0]))
        out.append(Sample(f"{name}_sum", labels, sums[0] * source.scale))
    if children and not served:
        # Every child dropped as inconsistent: nothing is served, so nothing is exact.
        return (), Fidelity.UNAVAILABLE
    return tuple(out), fidelity


@lru_cache(maxsize=65536)
def _split_le(labels: Labels) -> tuple[Labels, float] | None:
    le_text = next((v for k, v in labels if k == "le"), None)
    if le_text is None:
        return None
    try:
        le = float(le_text)
    except ValueError:
        return None
    return tuple(p for p in labels if p[0] != "le"), le


@lru_cache(maxsize=65536)
def _with_le(labels: Labels, le: float) -> Labels:
    return make_labels((*labels, ("le", format_float(le))))


def _fmt(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
