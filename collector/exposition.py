"""Render a `Snapshot` for Prometheus: text format 0.0.4 (through `slo.metrics.write`, byte for
byte what the sidecars write) or OpenMetrics 1.0, which is the format that carries exemplars.

A scraper that asks for OpenMetrics (`Accept: application/openmetrics-text`, as Prometheus does
with exemplar storage on) gets each histogram bucket's last observation with its trace and span
ids, so a slow bucket links straight to the vLLM request span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from collector.points import Exemplar, HistogramPoint, MetricSnapshot, ScalarPoint, Snapshot
from slo.catalog import Instrument
from slo.metrics.model import MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import escape_label_value, format_float, render_labels, write_exposition

_TYPE: Final = {
    Instrument.COUNTER: MetricType.COUNTER,
    Instrument.GAUGE: MetricType.GAUGE,
    Instrument.HISTOGRAM: MetricType.HISTOGRAM,
}


def cumulative_buckets(point: HistogramPoint) -> Iterator[tuple[str, int]]:
    """(le text, cumulative count) from OTLP-style per-bucket counts, ending with +Inf."""
    running = 0
    for bound, count in zip((*point.bounds, float("inf")), point.counts, strict=True):
        running += count
        yield format_float(bound), running


def to_families(snapshot: Snapshot) -> list[MetricFamily]:
    out: list[MetricFamily] = []
    for metric in snapshot:
        samples: list[Sample] = []
        name = metric.prom_name
        for point in metric.points:
            if isinstance(point, HistogramPoint):
                for le, cumulative in cumulative_buckets(point):
                    samples.append(Sample(f"{name}_bucket", make_labels((*point.labels, ("le", le))),
                                          float(cumulative)))
                samples.append(Sample(f"{name}_count", point.labels, float(point.count)))
                samples.append(Sample(f"{name}_sum", point.labels, point.sum))
            else:
                samples.append(Sample(name, point.labels, point.value))
        out.append(MetricFamily(name, _TYPE[metric.instrument], metric.help, tuple(samples)))
    return out


def render_text(snapshot: Snapshot) -> str:
    return write_exposition(to_families(snapshot))


def _exemplar(e: Exemplar) -> str:
    seconds = e.time_ns / 1e9
    return (f' # {{trace_id="{e.trace_id.hex()}",span_id="{e.span_id.hex()}"}} '
            f"{format_float(e.value)} {seconds:.3f}")


def _openmetrics_lines(metric: MetricSnapshot) -> Iterable[str]:
    name = metric.prom_name
    family = name[: -len("_total")] if metric.instrument is Instrument.COUNTER and name.endswith("_total") else name
    yield f"# TYPE {family} {_TYPE[metric.instrument].value}"
    yield f"# HELP {family} {escape_label_value(metric.help)}"
    for point in metric.points:
        if isinstance(point, HistogramPoint):
            exemplars = dict(point.exemplars)
            for i, (le, cumulative) in enumerate(cumulative_buckets(point)):
                labels = render_labels((*point.labels, ("le", le)))
                tail = _exemplar(exemplars[i]) if i in exemplars else ""
                yield f"{name}_bucket{labels} {cumulative}{tail}"
            yield f"{name}_count{render_labels(point.labels)} {point.count}"
            yield f"{name}_sum{render_labels(point.labels)} {format_float(point.sum)}"
        else:
            assert isinstance(point, ScalarPoint)
            suffix = "_total" if metric.instrument is Instrument.COUNTER else ""
            yield f"{family}{suffix}{render_labels(point.labels)} {format_float(point.value)}"


def render_openmetrics(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for metric in snapshot:
        lines.extend(_openmetrics_lines(metric))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"

