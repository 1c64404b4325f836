"""The in-memory shape of Prometheus metric families, shared by every parser, mapper and writer.

Frozen, hashable and ordered: the mapping core is pure functions over these values, so the same
input always gives byte-identical output (golden files depend on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Labels = tuple[tuple[str, str], ...]
"""Label pairs sorted by name. A tuple (not a dict) so samples hash and sort deterministically."""


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"
    UNTYPED = "untyped"


@dataclass(frozen=True, slots=True)
class Sample:
    """One exposed series value. `name` is the series name (`x_bucket`, `x_total`, ...)."""

    name: str
    labels: Labels
    value: float

    def label(self, key: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A family as announced by `# TYPE`. Counters are named with their `_total` suffix (as
    prometheus_client exposes them); histograms by their base name, samples carry the suffixes."""

    name: str
    type: MetricType
    help: str
    samples: tuple[Sample, ...]


def make_labels(pairs: dict[str, str] | Labels) -> Labels:
    """Normalise labels: sorted by name, empty values dropped (an empty label is no label in
    Prometheus, and keeping it would make `{a=""}` and `{}` two different series here)."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return tuple(sorted((k, v) for k, v in items if v != ""))
