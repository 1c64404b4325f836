"""The pure part of a sidecar: exposition text in, canonical families out. No I/O, no clock,
so golden tests, benchmarks and the live sidecar all run exactly this code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from exporters.selfmetrics import info_families
from slo.catalog import SourceKind
from slo.catalog.vllm_markers import VLLM_MARKERS
from slo.mapping import MappingNote, Schema, detect_dcgm, detect_vllm, map_to_canonical, source_prefixes
from slo.mapping.compiled import CompiledScraper
from slo.metrics.model import Labels, MetricFamily
from slo.metrics.parse import parse_exposition
from slo.metrics.write import write_exposition

EPOCH_METRIC = "process_start_time_seconds"


@dataclass(frozen=True, slots=True)
class Profile:
    """What differs between sources: which names to read, how to detect the schema."""

    kind: SourceKind
    keep: tuple[str, ...]
    detect: Callable[[Mapping[str, MetricFamily]], Schema]


VLLM = Profile(
    SourceKind.VLLM,
    tuple(sorted({*source_prefixes(SourceKind.VLLM), *VLLM_MARKERS, EPOCH_METRIC})),
    detect_vllm,
)
DCGM = Profile(SourceKind.DCGM, ("DCGM_", "dcgm_"), detect_dcgm)


@dataclass(frozen=True, slots=True)
class Processed:
    families: tuple[MetricFamily, ...]  # canonical SLI families
    notes: tuple[MappingNote, ...]
    schema: Schema
    errors: Counter[str]  # kind -> count, parse and mapping problems together
    messages: dict[str, str]  # kind -> first message, for logging once per kind
    epoch: float | None  # the source's process start time, when it exposes one


def process(text: str, profile: Profile, *, extra_labels: Labels = (), live: bool = True) -> Processed:
    """`live=True` treats a body without a final newline as truncated (see slo.metrics.parse)."""
    parsed = parse_exposition(text, keep=profile.keep, require_final_newline=live)
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    for err in parsed.errors:
        errors[str(err.kind)] += 1
        messages.setdefault(str(err.kind), f"line {err.line}: {err.message}")
    mapped = map_to_canonical(parsed.families, profile.kind, extra_labels=extra_labels)
    for issue in mapped.issues:
        errors[issue.kind] += 1
        messages.setdefault(issue.kind, issue.message)
    epoch_family = parsed.families.get(EPOCH_METRIC)
    epoch = epoch_family.samples[0].value if epoch_family and epoch_family.samples else None
    return Processed(
        mapped.families, mapped.notes, profile.detect(parsed.families), errors, messages, epoch
    )


def compiled_scraper(profile: Profile, *, extra_labels: Labels = ()) -> CompiledScraper:
    """Plans that redo `process` (plus continuity and writing) cheaply for a body whose shape was
    seen before; see slo.mapping.compiled."""
    return CompiledScraper(
        keep=profile.keep, kind=profile.kind, extra_labels=extra_labels, detect=profile.detect,
        epoch_metric=EPOCH_METRIC,
    )


def canonical_exposition(text: str, profile: Profile, *, extra_labels: Labels = ()) -> str:
    """The canonical /metrics body for one exposition, as the golden files record it."""
    result = process(text, profile, extra_labels=extra_labels, live=False)
    return write_exposition(
        [*result.families, *info_families(str(profile.kind), result.schema, result.notes)]
    )
