"""OTLP metrics in: engine and GPU metrics (as otelcol's prometheus receiver turns vLLM's and
dcgm-exporter's /metrics into OTLP, or as llmslo's sidecars push them) -> canonical SLIs.

OTLP points are turned back into the `slo.metrics` family model and mapped by the very code the
sidecars use (`slo.mapping.map_to_canonical`), so a metric means the same whichever path it took.
What OTLP adds is handled here:

* Names. OTel SDKs lower-case instrument names, so source names are matched ignoring case.
  The prometheus receiver keeps vLLM's `vllm:` names but may trim `_total` from counters
  (the `pkg.translator.prometheus.NormalizeName` feature gate); `_total` is put back.
  llmslo sidecars push canonical OTel names (`gen_ai.server.time_to_first_token`), which are
  taken as they are.
* Temporality. Cumulative points are used as they come; delta points are summed into a running
  cumulative per series, so the output is cumulative either way.
* Resets. A cumulative series that goes down (the engine restarted) has its old total carried
  forward by `slo.mapping.Continuity`, per source (one OTLP resource), as in the sidecars.
  Start-time changes are not used: the prometheus receiver gives series different start times
  and a new series would look like a restart of all of them.
* Stale markers (the NO_RECORDED_VALUE flag) are skipped.
* GPU to model. dcgm-exporter with pod mapping labels each GPU with the pod using it; the pod's
  model is learned from that pod's vLLM metrics and spans and added as `model_name`.

State (per-source continuity and delta sums) is bounded: at most `max_sources` sources, least
recently seen evicted first, and `max_series` delta series per source.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from collector.points import HistogramPoint, ScalarPoint
from collector.spans import scalar
from collector.store import MetricMeta, Store
from collector.traces import NAMESPACE_ATTRIBUTE, POD_ATTRIBUTE, IngestResult
from slo.catalog import CATALOG, SLI, Instrument, SourceKind
from slo.mapping import Continuity, HistogramError, map_to_canonical, rebucket, source_prefixes
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import format_float

CANONICAL: Final = "canonical"
_NO_RECORDED_VALUE: Final = 1
_DELTA: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA

_BY_OTEL: Final[dict[str, SLI]] = {s.otel_name: s for s in CATALOG}
_BY_PROM: Final[dict[str, SLI]] = {s.prom_name: s for s in CATALOG}
_VLLM_NAMES: Final = frozenset(source_prefixes(SourceKind.VLLM))
_DCGM_NAMES: Final = frozenset(source_prefixes(SourceKind.DCGM))
_SOURCE_NAMES: Final[dict[str, tuple[str, str]]] = {
    **{n: (str(SourceKind.VLLM), n) for n in _VLLM_NAMES},
    **{n: (str(SourceKind.DCGM), n) for n in _DCGM_NAMES},
}
# OTel SDKs treat instrument names as case-insensitive and send them lower-cased
# (`DCGM_FI_DEV_GPU_UTIL` arrives as `dcgm_fi_dev_gpu_util`); Prometheus names are case-sensitive.
_SOURCE_NAMES_FOLDED: Final = {n.lower(): v for n, v in _SOURCE_NAMES.items()}
_PROM_TYPE: Final = {
    Instrument.COUNTER: MetricType.COUNTER,
    Instrument.GAUGE: MetricType.GAUGE,
    Instrument.HISTOGRAM: MetricType.HISTOGRAM,
}


class PointRejected(ValueError):
    """A data point that is not a valid OTLP point (bucket counts not matching bounds, NaN count)."""


@dataclass(slots=True)
class _Source:
    continuity: Continuity = field(default_factory=Continuity)
    delta: dict[tuple[str, Labels], list[float]] = field(default_factory=dict)


def classify(metric: Metric) -> tuple[str, str] | None:
    """(source kind, family name as the exposition would call it), or None when no SLI reads it."""
    name = metric.name
    kind = metric.WhichOneof("data")
    if kind == "sum" and metric.sum.is_monotonic and not name.endswith("_total"):
        counter_name = name + "_total"
    else:
        counter_name = name
    for candidate in (counter_name, name):
        found = _SOURCE_NAMES.get(candidate) or _SOURCE_NAMES_FOLDED.get(candidate.lower())
        if found is not None:
            return found
    sli = _BY_OTEL.get(name) or _BY_PROM.get(name) or _BY_PROM.get(counter_name)
    if sli is not None:
        return CANONICAL, sli.prom_name
    return None


def _labels(attributes: Iterable[KeyValue], extra: Labels) -> Labels:
    pairs: dict[str, str] = dict(extra)
    for kv in attributes:
        value = scalar(kv)
        if value is None:
            continue
        pairs[kv.key] = value if isinstance(value, str) else format_float(float(value))
    return make_labels(pairs)


class MetricIngest:
    def __init__(self, store: Store, *, max_sources: int = 1024) -> None:
        self._store = store
        self._max_sources = max_sources
        self._sources: OrderedDict[tuple[tuple[str, str], ...], _Source] = OrderedDict()

    def ingest(self, request: ExportMetricsServiceRequest) -> IngestResult:
        accepted = rejected = unmapped = 0
        message = ""
        for resource_metrics in request.resource_metrics:
            resource = self._resource_key(resource_metrics.resource.attributes)
            found = dict(resource)
            extra = make_labels({"namespace": found.get(NAMESPACE_ATTRIBUTE, ""), "pod": found.get(POD_ATTRIBUTE, "")})
            families: dict[str, dict[str, MetricFamily]] = {}
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points = _point_count(metric)
                    where = classify(metric)
                    if where is None:
                        unmapped += points
                        continue
                    kind, family_name = where
                    try:
                        family, dropped = self._family(resource, family_name, metric, extra)
                    except PointRejected as exc:
                        rejected += points
                        message = message or f"metric {metric.name!r}: {exc}"
                        continue
                    accepted += points - dropped
                    unmapped += dropped
                    if family is not None:
                        families.setdefault(kind, {})[family_name] = family
            if families:
                self._map_and_keep(resource, families, extra)
        with self._store.lock:
            counts = self._store.counts.points
            counts["accepted"] += accepted
            counts["rejected"] += rejected
            counts["unmapped"] += unmapped
        if rejected:
            message = f"{rejected} data point(s) rejected; first: {message}"
        return IngestResult(accepted + unmapped, rejected, message)

    @staticmethod
    def _resource_key(attributes: Iterable[KeyValue]) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for kv in attributes:
            value = scalar(kv)
            if isinstance(value, str):
                out.append((kv.key, value))
        return tuple(sorted(out))

    def _source(self, resource: tuple[tuple[str, str], ...]) -> _Source:
        state = self._sources.get(resource)
        if state is None:
            state = self._sources[resource] = _Source()
            while len(self._sources) > self._max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(resource)
        return state

    def _family(
        self, resource: tuple[tuple[str, str], ...], name: str, metric: Metric, extra: Labels
    ) -> tuple[MetricFamily | None, int]:
        """The exposition-style family for one OTLP metric, and how many points were skipped."""
        kind = metric.WhichOneof("data")
        samples: list[Sample] = []
        skipped = 0
        if kind == "gauge" or kind == "sum":
            data = metric.gauge if kind == "gauge" else metric.sum
            monotonic = kind == "sum" and metric.sum.is_monotonic
            delta = kind == "sum" and metric.sum.aggregation_temporality == _DELTA
            for p in data.data_points:
                if p.flags & _NO_RECORDED_VALUE:
                    skipped += 1
                    continue
                which = p.WhichOneof("value")
                value = p.as_double if which == "as_double" else float(p.as_int)
                if monotonic and (math.isnan(value) or value < 0):
                    raise PointRejected(f"monotonic sum point with value {value}")
                labels = _labels(p.attributes, extra)
                if delta:
                    value = self._accumulate(resource, name, labels, [value])[0]
                samples.append(Sample(name, labels, value))
            mtype = MetricType.COUNTER if monotonic else MetricType.GAUGE
            return (MetricFamily(name, mtype, metric.description, tuple(samples)) if samples else None), skipped
        if kind == "histogram":
            delta = metric.histogram.aggregation_temporality == _DELTA
            for hp in metric.histogram.data_points:
                if hp.flags & _NO_RECORDED_VALUE:
                    skipped += 1
                    continue
                bounds = list(hp.explicit_bounds)
                counts = list(hp.bucket_counts)
                if len(counts) != len(bounds) + 1:
                    raise PointRejected(f"{len(counts)} bucket counts for {len(bounds)} bounds; must be bounds + 1")
                if any(math.isnan(b) for b in bounds) or any(b >= c for b, c in pairwise(bounds)):
                    raise PointRejected("explicit bounds must be increasing numbers")
                if sum(counts) != hp.count:
                    raise PointRejected(f"bucket counts add up to {sum(counts)}, count is {hp.count}")
                labels = _labels(hp.attributes, extra)
                values = [float(c) for c in counts] + [float(hp.count), hp.sum]
                if delta:
                    values = self._accumulate(resource, name, labels, values)
                running = 0.0
                for bound, count in zip((*bounds, math.inf), values[:-2], strict=True):
                    running += count
                    samples.append(Sample(f"{name}_bucket", make_labels((*labels, ("le", format_float(bound)))),
                                          running))
                samples.append(Sample(f"{name}_count", labels, values[-2]))
                samples.append(Sample(f"{name}_sum", labels, values[-1]))
            return (MetricFamily(name, MetricType.HISTOGRAM, metric.description, tuple(samples))
                    if samples else None), skipped
        # summaries and exponential histograms: no SLI source is one
        return None, _point_count(metric)

    def _accumulate(self, resource: tuple[tuple[str, str], ...], name: str, labels: Labels,
                    values: list[float]) -> list[float]:
        delta = self._source(resource).delta
        key = (name, labels)
        total = delta.get(key)
        if total is None:
            if len(delta) >= self._store.limits.max_series:
                raise PointRejected(f"more than {self._store.limits.max_series} delta series from one source")
            delta[key] = list(values)
            return list(values)
        if len(total) != len(values):  # bucket layout changed: restart the running total
            delta[key] = list(values)
            return list(values)
        for i, v in enumerate(values):
            total[i] += v
        return list(total)

    def _map_and_keep(self, resource: tuple[tuple[str, str], ...],
                      families: dict[str, dict[str, MetricFamily]], extra: Labels) -> None:
        mapped: list[MetricFamily] = []
        for kind, by_name in families.items():
            if kind == CANONICAL:
                mapped.extend(_on_grid(f) for f in by_name.values())
            else:
                mapped.extend(map_to_canonical(by_name, SourceKind(kind), extra_labels=extra).families)
        store = self._store
        with store.lock:
            mapped = list(self._source(resource).continuity.apply(tuple(mapped)))
            for family in mapped:
                sli = _BY_PROM.get(family.name)
                if sli is None or family.type is not _PROM_TYPE[sli.instrument]:
                    continue
                meta = MetricMeta(sli.prom_name, sli.otel_name, sli.unit, sli.summary, sli.instrument)
                points = _to_points(family, sli, store)
                store.keep(meta, points)


def _on_grid(family: MetricFamily) -> MetricFamily:
    """A canonical histogram pushed with other boundaries (an SDK's defaults) is merged onto the
    catalog grid, exactly as the mapper does for engine histograms; children that are not valid
    histograms are dropped."""
    sli = _BY_PROM.get(family.name)
    if sli is None or family.type is not MetricType.HISTOGRAM:
        return family
    children: dict[Labels, list[Sample]] = {}
    for s in family.samples:
        key = tuple(p for p in s.labels if p[0] != "le") if s.name.endswith("_bucket") else s.labels
        children.setdefault(key, []).append(s)
    out: list[Sample] = []
    for labels, samples in children.items():
        buckets = [(float(s.label("le")), s.value) for s in samples if s.name.endswith("_bucket")]
        count = next((s.value for s in samples if s.name.endswith("_count")), None)
        try:
            result = rebucket(buckets, sli.boundaries, count)
        except HistogramError:
            continue
        out.extend(Sample(f"{family.name}_bucket", make_labels((*labels, ("le", format_float(le)))), v)
                   for le, v in result.buckets)
        out.extend(s for s in samples if not s.name.endswith("_bucket"))
    return MetricFamily(family.name, family.type, family.help, tuple(out))


def _to_points(family: MetricFamily, sli: SLI, store: Store) -> list[HistogramPoint | ScalarPoint]:
    gpu = sli.key.startswith("gpu_")
    out: list[HistogramPoint | ScalarPoint] = []
    if family.type is MetricType.HISTOGRAM:
        children: dict[Labels, tuple[list[tuple[float, float]], list[float]]] = {}
        for s in family.samples:
            if s.name.endswith("_bucket"):
                le = float(s.label("le"))
                key = tuple(p for p in s.labels if p[0] != "le")
                children.setdefault(key, ([], [0.0, 0.0]))[0].append((le, s.value))
            elif s.name.endswith("_count"):
                children.setdefault(s.labels, ([], [0.0, 0.0]))[1][0] = s.value
            elif s.name.endswith("_sum"):
                children.setdefault(s.labels, ([], [0.0, 0.0]))[1][1] = s.value
        for labels, (buckets, (count, total)) in children.items():
            buckets.sort()
            bounds = tuple(le for le, _ in buckets if not math.isinf(le))
            per_bucket: list[int] = []
            previous = 0
            for _, cumulative in buckets:
                per_bucket.append(round(cumulative) - previous)
                previous = round(cumulative)
            out.append(HistogramPoint(_learn(labels, store, gpu), bounds, tuple(per_bucket), total, round(count), 0))
        return out
    for s in family.samples:
        if s.name == family.name:
            out.append(ScalarPoint(_learn(s.labels, store, gpu), s.value, 0))
    return out


def _learn(labels: Labels, store: Store, gpu: bool) -> Labels:
    """Engine series teach the store which model a pod serves; GPU series get that model."""
    found = dict(labels)
    pod = found.get("pod", "")
    if not pod:
        return labels
    namespace = found.get("namespace", "")
    if gpu:
        if "model_name" not in found:
            model = store.pod_model(namespace, pod)
            if model:
                return make_labels((*labels, ("model_name", model)))
    elif "model_name" in found:
        store.learn_pod_model(namespace, pod, found["model_name"])
    return labels


def _point_count(metric: Metric) -> int:
    kind = metric.WhichOneof("data")
    if kind is None:
        return 0
    return len(getattr(metric, kind).data_points)
