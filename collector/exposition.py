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
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import format_float, write_exposition

TEXT_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE: Final = "application/openmetrics-text; version=1.0.0; charset=utf-8"

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


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels)) + "}"


def _exemplar(e: Exemplar) -> str:
    seconds = e.time_ns / 1e9
    return (f' # {{trace_id="{e.trace_id.hex()}",span_id="{e.span_id.hex()}"}} '
            f"{format_float(e.value)} {seconds:.3f}")


def _openmetrics_lines(metric: MetricSnapshot) -> Iterable[str]:
    name = metric.prom_name
    family = name[: -len("_total")] if metric.instrument is Instrument.COUNTER and name.endswith("_total") else name
    yield f"# TYPE {family} {_TYPE[metric.instrument].value}"
    yield "# HELP {} {}".format(family, metric.help.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"'))
    for point in metric.points:
        if isinstance(point, HistogramPoint):
            exemplars = dict(point.exemplars)
            for i, (le, cumulative) in enumerate(cumulative_buckets(point)):
                labels = _labels((*point.labels, ("le", le)))
                tail = _exemplar(exemplars[i]) if i in exemplars else ""
                yield f"{name}_bucket{labels} {cumulative}{tail}"
            yield f"{name}_count{_labels(point.labels)} {point.count}"
            yield f"{name}_sum{_labels(point.labels)} {format_float(point.sum)}"
        else:
            assert isinstance(point, ScalarPoint)
            suffix = "_total" if metric.instrument is Instrument.COUNTER else ""
            yield f"{family}{suffix}{_labels(point.labels)} {format_float(point.value)}"


def render_openmetrics(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for metric in snapshot:
        lines.extend(_openmetrics_lines(metric))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def wants_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in accept
