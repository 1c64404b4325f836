"""Detect what a scrape exposes: which vLLM generation and release range, which dcgm-exporter
label style. Reported as an info metric so an operator sees what the sidecar saw."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from slo.catalog.versions import ANY, VersionRange
from slo.catalog.vllm_markers import V0_RANGE, VLLM_MARKERS
from slo.metrics.model import MetricFamily


@dataclass(frozen=True, slots=True)
class Schema:
    source: str  # "vllm" | "dcgm"
    generation: str  # vllm: "v1" | "v0" | "unknown"; dcgm: label style "hostname" | "Hostname" | "none"
    versions: VersionRange = ANY
    evidence: tuple[str, ...] = ()  # family names the range was derived from
    conflict: bool = False  # markers contradict each other (mixed or hand-made exposition)


def detect_vllm(families: Mapping[str, MetricFamily]) -> Schema:
    vllm = [f for name, f in families.items() if name.startswith("vllm:") and f.samples]
    if not vllm:
        return Schema("vllm", "unknown")
    # Every V1 engine metric carries `engine`; looking at one sample per family is enough.
    has_engine_label = any(k == "engine" for f in vllm for k, _ in f.samples[0].labels)
    return _detect_vllm(frozenset(families), has_engine_label)


@lru_cache(maxsize=64)
def _detect_vllm(names: frozenset[str], has_engine_label: bool) -> Schema:
    """Memoised: the set of families a target exposes rarely changes between scrapes."""
    generation = "v1" if has_engine_label else "v0"
    versions = ANY if has_engine_label else V0_RANGE
    evidence = tuple(sorted(n for n in names if n in VLLM_MARKERS))
    conflict = False
    for name in evidence:
        narrowed = versions.intersect(VLLM_MARKERS[name])
        if narrowed.is_empty():
            conflict = True
            continue
        versions = narrowed
    return Schema("vllm", generation, versions, evidence, conflict)


def detect_dcgm(families: Mapping[str, MetricFamily]) -> Schema:
    style = "none"
    for family in families.values():
        for sample in family.samples:
            for key, _ in sample.labels:
                if key in ("hostname", "Hostname"):
                    return Schema("dcgm", key)
    return Schema("dcgm", style)
