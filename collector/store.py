"""The collector's state: span-derived histograms and counters, the latest mapped metric points,
and the bounds that keep it all in fixed memory.

Memory is bounded three ways. Tenants are admitted by allowlist or first-come up to
`max_tenants`; the rest are counted as tenant `other`. Each metric holds at most
`max_series` series: a new label set beyond that is folded into a series whose tenant is `other`
(or, when even those are full, whose every bounded label is `other`), and
`llmslo_collector_series_folded_total{metric}` counts the observations folded. Series not updated
for `stale_after_s` are dropped (`..._series_expired_total`), which also frees their slots.

Span-derived series are cumulative from their first observation (their OTLP start time). A
mapped metric point (from OTLP metrics) is kept as last received; over the limit it is dropped
and counted, since a cumulative series cannot be folded exactly without keeping its history.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial, reduce
from operator import add, itemgetter
from typing import Final

from collector.goodput import GoodputSLO
from collector.points import Exemplar, HistogramPoint, MetricSnapshot, ScalarPoint, Snapshot
from collector.spans import PLAN, RequestObservation
from collector.speedups import Spec, group_by_labels
from collector.speedups import accumulate_many as native_accumulate
from slo.catalog import BY_KEY, Instrument
from slo.metrics.model import Labels, make_labels

OTHER: Final = "other"
# Span observations are aggregated in batches: per series once this many wait, and everything
# once this many wait in all (bounds the memory held: about 1 KiB each), and before any read.
FLUSH_SERIES_AT: Final = 256
FLUSH_ALL_AT: Final = 16384
_ALL_OTHER: Final = (OTHER, OTHER, OTHER, OTHER)
SELF_PREFIX: Final = "llmslo_collector"


@dataclass(frozen=True, slots=True)
class Limits:
    max_series: int = 2000  # per metric
    overflow_series: int = 100  # per metric, tenant-folded series beyond max_series
    max_tenants: int = 0  # 0: no tenant cap of its own (max_series still applies)
    tenant_allowlist: frozenset[str] = frozenset()
    stale_after_s: float = 600.0
    sweep_every_s: float = 5.0


class _Hist:
    __slots__ = ("bounds", "count", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        # (value, observation): the Exemplar is built only when a snapshot is taken
        self.exemplars: list[tuple[float, RequestObservation] | None] = [None] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def point(self, labels: Labels, start_ns: int) -> HistogramPoint:
        return HistogramPoint(
            labels=labels,
            bounds=self.bounds,
            counts=tuple(self.counts),
            sum=self.sum,
            count=self.count,
            start_ns=start_ns,
            exemplars=tuple(
                (i, Exemplar(e[1].trace_id, e[1].span_id, e[0], e[1].time_ns))
                for i, e in enumerate(self.exemplars)
                if e is not None and e[1].trace_id
            ),
        )


_HIST_KEYS: Final = tuple(k for k in (s for s, _ in PLAN.direct) if k in PLAN.histograms) + tuple(
    k for k, _, _ in PLAN.per_token if k in PLAN.histograms
)
_COUNTER_KEYS: Final = tuple(sorted(PLAN.counters))
_ALL_KEYS: Final = (*_HIST_KEYS, *_COUNTER_KEYS)
# SLI.prom_name is computed on every access; the hot path reads these instead.
_PROM: Final[dict[str, str]] = {k: BY_KEY[k].prom_name for k in (*_HIST_KEYS, *_COUNTER_KEYS, "goodput")}


class _RequestSeries:
    """Every span-derived metric for one label set (model, tenant, namespace, pod): they share
    labels, so one lookup per span finds all of them."""

    __slots__ = ("counters", "goodput", "hists", "labels", "overflow", "pending", "start_ns", "updated")

    def __init__(self, labels: Labels, start_ns: int, now: float, overflow: bool) -> None:
        self.labels = labels
        self.overflow = overflow
        self.start_ns = start_ns
        self.updated = now
        self.hists = {k: _Hist(BY_KEY[k].boundaries) for k in _HIST_KEYS}
        self.counters = dict.fromkeys(_COUNTER_KEYS, 0.0)
        self.goodput: dict[tuple[str, str], float] = {}
        self.pending: list[RequestObservation] = []  # routed here, not yet aggregated (Store._flush)


@dataclass(slots=True)
class _Kept:
    point: HistogramPoint | ScalarPoint
    updated: float


@dataclass(slots=True)
class _SelfCounts:
    spans: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0, "ignored": 0})
    points: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0, "unmapped": 0})
    folded: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    tenants_folded: int = 0


@dataclass(frozen=True, slots=True)
class MetricMeta:
    prom_name: str
    otel_name: str
    unit: str
    help: str
    instrument: Instrument


class Store:
    def __init__(
        self,
        limits: Limits = Limits(),
        goodput: tuple[GoodputSLO, ...] = (),
        *,
        wall_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        speedups: bool = True,
    ) -> None:
        """`speedups=False`: aggregate in Python even where the C extension is built (the
        reference it is tested against)."""
        self.limits = limits
        self._accumulate = native_accumulate if speedups else None
        self._group = group_by_labels if speedups else None
        self.goodput = goodput
        self._wall_ns = wall_ns
        self._monotonic = monotonic
        self._start_ns = wall_ns()
        self.lock = threading.Lock()
        self._requests: dict[tuple[str, str, str, str], _RequestSeries] = {}
        self._regular = 0  # series in _requests that are not overflow series
        self._tenants: dict[str, float] = {}
        self._kept: dict[str, dict[Labels, _Kept]] = {}
        self._meta: dict[str, MetricMeta] = {}
        self._last_sweep = monotonic()
        self._pod_models: dict[tuple[str, str], tuple[str, float]] = {}
        self.counts = _SelfCounts()
        self._pending: list[_RequestSeries] = []  # series with pending observations
        self._pending_count = 0

    # -- span-derived ------------------------------------------------------------------------

    def record_requests(self, observations: Iterable[RequestObservation], namespace: str, pod: str) -> None:
        """Caller holds `lock`. Each observation is routed to its series now (admission and
        folding happen one by one, in arrival order) and aggregated in batches (`_flush`)."""
        now = self._monotonic()
        requests = self._requests
        pending = self._pending
        routed = 0
        group = self._group
        if group is not None and isinstance(observations, list):
            # The usual case, every label set seen before: route each group at once (C grouping,
            # collector.speedups). Admission and folding depend on arrival order, so any new label
            # set sends the whole batch the one-by-one way below.
            groups = group(observations)
            found = [requests.get((model, tenant, namespace, pod)) for model, tenant, _ in groups]
            if None not in found:
                for series, (_, _, members) in zip(found, groups, strict=True):
                    assert series is not None
                    series.updated = now
                    batch = series.pending
                    if not batch:
                        pending.append(series)
                    batch += members
                    if len(batch) >= FLUSH_SERIES_AT:
                        self._flush(series)
                routed = len(observations)
                observations = ()
        for obs in observations:
            routed += 1
            key = (obs.model, obs.tenant, namespace, pod)
            series = requests.get(key)
            if series is None:
                series = self._admit(key, now, obs)
            series.updated = now
            batch = series.pending
            if not batch:
                pending.append(series)
            batch.append(obs)
            if len(batch) >= FLUSH_SERIES_AT:
                self._flush(series)
        self._pending_count += routed
        if self._pending_count >= FLUSH_ALL_AT:
            self.flush()
        if now - self._last_sweep >= self.limits.sweep_every_s:
            self.sweep(now)

    def flush(self) -> None:
        """Aggregate every pending observation. Caller holds `lock`."""
        for series in self._pending:
            if series.pending:
                self._flush(series)
        self._pending.clear()
        self._pending_count = 0

    def _flush(self, series: _RequestSeries) -> None:
        """Aggregate a series' pending observations, equal to recording them one at a time: bucket
        indices by `map(bisect)`, counts by `Counter`, sums by a left fold (the same float additions
        in the same order as a loop), each bucket's exemplar its last observation; all in C."""
        batch = series.pending
        series.pending = []
        accumulate = self._accumulate
        if accumulate is not None:
            # The C loop (collector.speedups): same bisect, same additions in the same order, each
            # bucket's exemplar its last observation. A key it declines goes the Python way.
            hists = series.hists
            counters = series.counters
            specs: list[Spec] = [
                (k, hists[k].bounds, hists[k].counts, hists[k].exemplars, hists[k].sum) if k in hists
                else (k, None, None, None, counters[k])
                for k in _ALL_KEYS
            ]
            declined: set[str] = set()
            for (sli_key, _, _, _, _), done in zip(specs, accumulate(batch, specs), strict=True):
                if done is None:
                    declined.add(sli_key)
                elif sli_key in hists:
                    hist = hists[sli_key]
                    hist.sum, carried = done
                    hist.count += carried
                else:
                    counters[sli_key] = done[0]
            if declined:
                self._aggregate(series, batch, declined)
        else:
            self._aggregate(series, batch, set().union(*[obs.values for obs in batch]))
        self._count_goodput(series, batch)

    @staticmethod
    def _aggregate(series: _RequestSeries, batch: list[RequestObservation], keys: set[str]) -> None:
        dicts = [obs.values for obs in batch]
        for sli_key in keys:
            try:
                values = list(map(itemgetter(sli_key), dicts))
                carriers = batch
            except KeyError:  # not every request gives this SLI (TPOT of one-token answers)
                carriers = [obs for obs in batch if sli_key in obs.values]
                values = [obs.values[sli_key] for obs in carriers]
            hist = series.hists.get(sli_key)
            if hist is None:  # the only other keys a span gives are token counters
                series.counters[sli_key] = reduce(add, values, series.counters[sli_key])
                continue
            buckets = list(map(partial(bisect_left, hist.bounds), values))
            counts = hist.counts
            for i, n in Counter(buckets).items():
                counts[i] += n
            hist.sum = reduce(add, values, hist.sum)
            hist.count += len(values)
            exemplars = hist.exemplars
            for i, last in dict(zip(buckets, range(len(buckets)), strict=True)).items():
                exemplars[i] = (values[last], carriers[last])

    def _count_goodput(self, series: _RequestSeries, batch: list[RequestObservation]) -> None:
        goodput = self.goodput
        if goodput:
            counts_g = series.goodput
            for obs in batch:
                for slo in goodput:
                    if slo.applies_to(obs.model):
                        if (slo.name, "met") not in counts_g:  # both outcomes exist from the start: ratios work
                            counts_g[(slo.name, "met")] = counts_g[(slo.name, "missed")] = 0.0
                        counts_g[(slo.name, "met" if slo.met(obs.values) else "missed")] += 1.0

    def _tenant(self, tenant: str, now: float) -> str:
        """The tenant as reported: itself if allowed, else `other` (counted)."""
        limits = self.limits
        if limits.tenant_allowlist:
            if tenant in limits.tenant_allowlist:
                return tenant
        elif limits.max_tenants <= 0:
            return tenant
        elif tenant in self._tenants or len(self._tenants) < limits.max_tenants:
            self._tenants[tenant] = now
            return tenant
        self.counts.tenants_folded += 1
        return OTHER

    def _admit(self, key: tuple[str, str, str, str], now: float, obs: RequestObservation) -> _RequestSeries:
        """A label set seen for the first time (or folded before): find or make its series."""
        model, tenant, namespace, pod = key
        bounded = self._tenant(tenant, now)
        if bounded != tenant:
            key = (model, bounded, namespace, pod)
            existing = self._requests.get(key)
            if existing is not None:
                return existing  # not cached under the raw key: the tenant may get a slot later
        if self._regular < self.limits.max_series:
            return self._new(key, now, overflow=False)
        self._count_folded(obs)
        key = (model, OTHER, namespace, pod)
        existing = self._requests.get(key)
        if existing is not None:
            return existing
        if len(self._requests) - self._regular < self.limits.overflow_series:
            return self._new(key, now, overflow=True)
        existing = self._requests.get(_ALL_OTHER)
        return existing if existing is not None else self._new(_ALL_OTHER, now, overflow=True)

    def _new(self, key: tuple[str, str, str, str], now: float, *, overflow: bool) -> _RequestSeries:
        labels = make_labels({"model_name": key[0], "tenant": key[1], "namespace": key[2], "pod": key[3]})
        series = _RequestSeries(labels, self._wall_ns(), now, overflow)
        self._requests[key] = series
        if not overflow:
            self._regular += 1
        return series

    def _count_folded(self, obs: RequestObservation) -> None:
        folded = self.counts.folded
        for sli_key in obs.values:
            name = _PROM[sli_key]
            folded[name] = folded.get(name, 0) + 1
        if self.goodput:
            name = _PROM["goodput"]
            folded[name] = folded.get(name, 0) + sum(1 for s in self.goodput if s.applies_to(obs.model))

    def learn_pod_model(self, namespace: str, pod: str, model: str) -> None:
        """Remember which model a pod serves, to put `model_name` on that pod's GPU series.
        Bounded like a metric's series, and swept when stale. Caller holds `lock`."""
        key = (namespace, pod)
        if key in self._pod_models or len(self._pod_models) < self.limits.max_series:
            self._pod_models[key] = (model, self._monotonic())

    def pod_model(self, namespace: str, pod: str) -> str:
        found = self._pod_models.get((namespace, pod))
        return found[0] if found is not None else ""

    # -- mapped metric points ----------------------------------------------------------------

    def keep(self, meta: MetricMeta, points: Iterable[HistogramPoint | ScalarPoint]) -> None:
        """Latest value per series of a mapped metric (cumulative or gauge). Caller holds `lock`."""
        now = self._monotonic()
        self._meta.setdefault(meta.prom_name, meta)
        series = self._kept.setdefault(meta.prom_name, {})
        limit = self.limits.max_series
        for point in points:
            entry = series.get(point.labels)
            if entry is not None:
                entry.point = replace(point, start_ns=entry.point.start_ns)
                entry.updated = now
            elif len(series) < limit:
                series[point.labels] = _Kept(replace(point, start_ns=self._wall_ns()), now)
            else:
                self.counts.dropped[meta.prom_name] = self.counts.dropped.get(meta.prom_name, 0) + 1

    # -- housekeeping ------------------------------------------------------------------------

    def sweep(self, now: float | None = None) -> None:
        """Drop series not updated for `stale_after_s`. Caller holds `lock`."""
        now = self._monotonic() if now is None else now
        self.flush()
        self._last_sweep = now
        horizon = now - self.limits.stale_after_s
        expired = self.counts.expired
        stale = [k for k, s in self._requests.items() if s.updated < horizon]
        for key in stale:
            series = self._requests.pop(key)
            if not series.overflow:
                self._regular -= 1
            for name in self._span_metric_names(series):
                expired[name] = expired.get(name, 0) + 1
        for tenant in [t for t, seen in self._tenants.items() if seen < horizon]:
            del self._tenants[tenant]
        for pod in [p for p, (_, seen) in self._pod_models.items() if seen < horizon]:
            del self._pod_models[pod]
        for name, series_map in self._kept.items():
            for labels in [k for k, v in series_map.items() if v.updated < horizon]:
                del series_map[labels]
                expired[name] = expired.get(name, 0) + 1

    @staticmethod
    def _span_metric_names(series: _RequestSeries) -> list[str]:
        names = [_PROM[k] for k, h in series.hists.items() if h.count]
        names += [_PROM[k] for k in _COUNTER_KEYS]
        if series.goodput:
            names.append(_PROM["goodput"])
        return names

    def series_count(self) -> int:
        return len(self._requests) + sum(len(s) for s in self._kept.values())

    # -- output ------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every metric as frozen points, sorted by name and labels. Takes the lock itself."""
        with self.lock:
            self.sweep()
            out: dict[str, MetricSnapshot] = {}
            by_metric: dict[str, list[HistogramPoint | ScalarPoint]] = {}
            metas: dict[str, MetricMeta] = {}
            for series in self._requests.values():
                for key, hist in series.hists.items():
                    if hist.count:
                        meta = _catalog_meta(key)
                        metas[meta.prom_name] = meta
                        by_metric.setdefault(meta.prom_name, []).append(hist.point(series.labels, series.start_ns))
                for key, value in series.counters.items():
                    meta = _catalog_meta(key)
                    metas[meta.prom_name] = meta
                    by_metric.setdefault(meta.prom_name, []).append(ScalarPoint(series.labels, value, series.start_ns))
                if series.goodput:
                    meta = _catalog_meta("goodput")
                    metas[meta.prom_name] = meta
                    points = by_metric.setdefault(meta.prom_name, [])
                    for (slo, outcome), value in series.goodput.items():
                        labels = make_labels((*series.labels, ("slo", slo), ("goodput", outcome)))
                        points.append(ScalarPoint(labels, value, series.start_ns))
            for name, series_map in self._kept.items():
                if series_map:
                    metas.setdefault(name, self._meta[name])
                    by_metric.setdefault(name, []).extend(k.point for k in series_map.values())
            for name, points in by_metric.items():
                meta = metas[name]
                ordered = sorted(points, key=lambda p: p.labels)
                out[name] = MetricSnapshot(meta.prom_name, meta.otel_name, meta.unit, meta.help, meta.instrument,
                                           tuple(ordered))  # type: ignore[arg-type]
            for metric in self._self_metrics():
                out[metric.prom_name] = metric
            return tuple(out[k] for k in sorted(out))

    def _self_metrics(self) -> list[MetricSnapshot]:
        c = self.counts
        start = self._start_ns

        def counter(name: str, otel: str, unit: str, help_: str, label: str, values: dict[str, int]) -> MetricSnapshot:
            points = tuple(ScalarPoint(((label, k),), float(v), start) for k, v in sorted(values.items()))
            return MetricSnapshot(f"{SELF_PREFIX}_{name}_total", f"llmslo.collector.{otel}", unit, help_,
                                  Instrument.COUNTER, points)

        series_now: dict[str, int] = {}
        for series in self._requests.values():
            for name in self._span_metric_names(series):
                series_now[name] = series_now.get(name, 0) + 1
        for name, series_map in self._kept.items():
            series_now[name] = series_now.get(name, 0) + len(series_map)
        return [
            counter("spans", "spans", "{span}", "Spans received, by result (ignored: not an llm_request span).",
                    "result", c.spans),
            counter("data_points", "data_points", "{data_point}",
                    "OTLP metric data points received, by result (unmapped: not a source of any SLI).",
                    "result", c.points),
            counter("series_folded", "series_folded", "{observation}",
                    "Observations folded into an `other` series by the per-metric series limit.", "metric", c.folded),
            counter("series_dropped", "series_dropped", "{data_point}",
                    "Mapped data points dropped by the per-metric series limit.", "metric", c.dropped),
            counter("series_expired", "series_expired", "{series}",
                    "Series removed after receiving nothing for the staleness period.", "metric", c.expired),
            counter("requests_refused", "requests_refused", "{request}",
                    "Export requests refused before processing (overload, size, content type), by reason.",
                    "reason", c.refused),
            MetricSnapshot(f"{SELF_PREFIX}_tenants_folded_total", "llmslo.collector.tenants_folded", "{request}",
                           "Requests whose tenant was reported as `other` (allowlist or tenant cap).",
                           Instrument.COUNTER, (ScalarPoint((), float(c.tenants_folded), start),)),
            MetricSnapshot(f"{SELF_PREFIX}_series", "llmslo.collector.series", "{series}",
                           "Series held now, per metric.", Instrument.GAUGE,
                           tuple(ScalarPoint((("metric", k),), float(v), start)
                                 for k, v in sorted(series_now.items()))),
        ]


def _catalog_meta(key: str) -> MetricMeta:
    sli = BY_KEY[key]
    return MetricMeta(sli.prom_name, sli.otel_name, sli.unit, sli.summary, sli.instrument)
