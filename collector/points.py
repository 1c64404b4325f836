"""The collector's output model: frozen metric points, the one shape every writer reads.

The Prometheus text writer, the OpenMetrics writer (with exemplars) and the OTLP exporter all
render a `Snapshot`, so the three outputs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.catalog import Instrument
from slo.metrics.model import Labels


@dataclass(frozen=True, slots=True)
class Exemplar:
    """The last observation that fell in a bucket, with the trace it came from."""

    trace_id: bytes
    span_id: bytes
    value: float
    time_ns: int


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    labels: Labels
    bounds: tuple[float, ...]  # finite upper bounds, ascending
    counts: tuple[int, ...]  # per bucket (not cumulative), len(bounds) + 1; the last is the overflow
    sum: float
    count: int
    start_ns: int
    exemplars: tuple[tuple[int, Exemplar], ...] = ()  # (bucket index, exemplar)


@dataclass(frozen=True, slots=True)
class ScalarPoint:
    labels: Labels
    value: float
    start_ns: int


@dataclass(frozen=True, slots=True)
class MetricSnapshot:
    """One metric. `prom_name` is the Prometheus family name (counters with `_total`)."""

    prom_name: str
    otel_name: str
    unit: str
    help: str
    instrument: Instrument
    points: tuple[HistogramPoint, ...] | tuple[ScalarPoint, ...]


Snapshot = tuple[MetricSnapshot, ...]
