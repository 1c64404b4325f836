"""What otelcol-contrib's prometheus receiver makes of a scrape, for feeding real captures to the
collector without the otelcol binary (which cannot run here).

The conversion follows the receiver's documented behaviour (docs/collector-schema.md, section
"prometheus receiver: metric translation"): counters become monotonic cumulative Sums (with the
`_total` suffix trimmed when the `pkg.translator.prometheus.NormalizeName` gate is on), gauges
Gauges, histograms cumulative explicit-bucket Histograms with per-bucket counts, `_created`
samples become start times, and job/instance move to the resource as service.name and
service.instance.id. Only the families the collector reads matter; others are converted the same way.
"""

from __future__ import annotations

import math

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from slo.metrics.model import Labels, MetricFamily, MetricType
from slo.metrics.parse import parse_exposition

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attrs(labels: Labels) -> list[KeyValue]:
    out = []
    for k, v in labels:
        kv = KeyValue(key=k)
        kv.value.string_value = v
        out.append(kv)
    return out


def _family_to_metric(family: MetricFamily, trim_total: bool, start_ns: int, now_ns: int) -> Metric | None:
    metric = Metric(description=family.help)
    if family.type is MetricType.COUNTER:
        metric.name = family.name[: -len("_total")] if trim_total and family.name.endswith("_total") else family.name
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = CUMULATIVE
        for s in family.samples:
            if s.name == family.name:
                p = metric.sum.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=now_ns, as_double=s.value)
                p.attributes.extend(_attrs(s.labels))
    elif family.type in (MetricType.GAUGE, MetricType.UNTYPED):
        metric.name = family.name
        for s in family.samples:
            p = metric.gauge.data_points.add(time_unix_nano=now_ns, as_double=s.value)
            p.attributes.extend(_attrs(s.labels))
    elif family.type is MetricType.HISTOGRAM:
        metric.name = family.name
        metric.histogram.aggregation_temporality = CUMULATIVE
        children: dict[Labels, dict[str, object]] = {}
        for s in family.samples:
            if s.name.endswith("_bucket"):
                key = tuple(p for p in s.labels if p[0] != "le")
                children.setdefault(key, {}).setdefault("buckets", []).append(  # type: ignore[union-attr]
                    (float(s.label("le")), s.value))
            elif s.name.endswith("_count"):
                children.setdefault(s.labels, {})["count"] = s.value
            elif s.name.endswith("_sum"):
                children.setdefault(s.labels, {})["sum"] = s.value
        for labels, child in children.items():
            buckets = sorted(child["buckets"])  # type: ignore[call-overload]
            p = metric.histogram.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=now_ns,
                                                 count=int(child["count"]), sum=float(child["sum"]))  # type: ignore[call-overload, arg-type]
            p.explicit_bounds.extend(le for le, _ in buckets if not math.isinf(le))
            previous = 0
            for _, cumulative in buckets:
                p.bucket_counts.append(int(cumulative) - previous)
                previous = int(cumulative)
            p.attributes.extend(_attrs(labels))
    else:
        return None
    return metric


def scrape_to_otlp(text: str, *, job: str, instance: str, resource: dict[str, str] | None = None,
                   trim_total: bool = True, start_ns: int = 1, now_ns: int = 2) -> ExportMetricsServiceRequest:
    parsed = parse_exposition(text, require_final_newline=False)
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    for k, v in {"service.name": job, "service.instance.id": instance, **(resource or {})}.items():
        kv = rm.resource.attributes.add(key=k)
        kv.value.string_value = v
    sm = rm.scope_metrics.add()
    sm.scope.name = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"
    for family in parsed.families.values():
        metric = _family_to_metric(family, trim_total, start_ns, now_ns)
        if metric is not None:
            sm.metrics.append(metric)
    return request
