"""The proxy's instruments: histograms and counters named and bucketed exactly as the catalog says.

Hand-rolled rather than prometheus_client's because the hot path (one inter-chunk gap per streamed
chunk) must cost well under a microsecond: a child is looked up once per request and observed with
a bisect and two additions. Only the event-loop thread writes; the /metrics thread reads. Reading
lists of ints under the GIL is safe; a histogram's `_count` is computed from its buckets, so a
scrape during a write never sees `_count` disagree with `+Inf`. Adding a child takes the lock.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import NamedTuple

from slo import catalog
from slo.catalog import SLI, Instrument
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import format_float

CONST_LABELS = ("namespace", "pod")


class Exemplar(NamedTuple):
    request_id: str
    value: float
    timestamp: float


ExemplarKey = tuple[str, Labels]  # (sample name, labels)


class HistogramChild:
    __slots__ = ("bounds", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.exemplars: list[Exemplar | None] = [None] * (len(bounds) + 1)

    def observe(self, value: float, request_id: str = "") -> None:
        i = bisect_left(self.bounds, value)  # le is inclusive: the first bound >= value
        self.counts[i] += 1
        self.sum += value
        if request_id:
            self.exemplars[i] = Exemplar(request_id, value, time.time())


class _Instrument:
    def __init__(self, sli: SLI, const: Labels) -> None:
        self.sli = sli
        self.name = sli.prom_name
        self.help = sli.summary
        self.label_names = tuple(n for n in sli.labels if n not in CONST_LABELS)
        self.const = const
        self._lock = threading.Lock()

    def _labels(self, values: tuple[str, ...]) -> Labels:
        return make_labels((*self.const, *zip(self.label_names, values, strict=True)))


class Histogram(_Instrument):
    def __init__(self, sli: SLI, const: Labels) -> None:
        if sli.instrument is not Instrument.HISTOGRAM or not sli.boundaries:
            raise ValueError(f"SLI {sli.key!r} is not a histogram with boundaries")
        super().__init__(sli, const)
        self.bounds = tuple(sli.boundaries)
        self.children: dict[tuple[str, ...], HistogramChild] = {}

    def child(self, values: tuple[str, ...]) -> HistogramChild:
        child = self.children.get(values)
        if child is None:
            with self._lock:
                child = self.children.setdefault(values, HistogramChild(self.bounds))
        return child

    def collect(self, exemplars: dict[ExemplarKey, Exemplar]) -> MetricFamily:
        with self._lock:
            items = sorted(self.children.items())
        samples: list[Sample] = []
        les = [*(format_float(b) for b in self.bounds), "+Inf"]
        for values, child in items:
            labels = self._labels(values)
            counts = list(child.counts)
            total = child.sum
            running = 0
            for le, count, ex in zip(les, counts, list(child.exemplars), strict=True):
                running += count
                bucket_labels = make_labels((*labels, ("le", le)))
                samples.append(Sample(self.name + "_bucket", bucket_labels, float(running)))
                if ex is not None:
                    exemplars[(self.name + "_bucket", bucket_labels)] = ex
            samples.append(Sample(self.name + "_count", labels, float(running)))
            samples.append(Sample(self.name + "_sum", labels, total))
        return MetricFamily(self.name, MetricType.HISTOGRAM, self.help, tuple(samples))


class Counter(_Instrument):
    def __init__(self, sli: SLI, const: Labels) -> None:
        if sli.instrument is not Instrument.COUNTER:
            raise ValueError(f"SLI {sli.key!r} is not a counter")
        super().__init__(sli, const)
        self.values: dict[tuple[str, ...], float] = {}
        self.exemplars: dict[tuple[str, ...], Exemplar] = {}

    def inc(self, values: tuple[str, ...], amount: float = 1.0, request_id: str = "") -> None:
        if values not in self.values:
            with self._lock:
                self.values.setdefault(values, 0.0)
        self.values[values] += amount
        if request_id:
            self.exemplars[values] = Exemplar(request_id, amount, time.time())

    def collect(self, exemplars: dict[ExemplarKey, Exemplar]) -> MetricFamily:
        with self._lock:
            items = sorted(self.values.items())
        samples = []
        for values, value in items:
            labels = self._labels(values)
            samples.append(Sample(self.name, labels, value))
            ex = self.exemplars.get(values)
            if ex is not None:
                exemplars[(self.name, labels)] = ex
        return MetricFamily(self.name, MetricType.COUNTER, self.help, tuple(samples))


class Recorder:
    """Every proxy SLI plus the proxy's metrics about itself."""

    def __init__(self, *, namespace: str = "", pod: str = "") -> None:
        const = make_labels({"namespace": namespace, "pod": pod})
        self.ttft = Histogram(catalog.get("proxy_ttft"), const)
        self.itl = Histogram(catalog.get("proxy_itl"), const)
        self.tpot = Histogram(catalog.get("proxy_tpot"), const)
        self.e2e = Histogram(catalog.get("proxy_e2e"), const)
        self.input_tokens = Counter(catalog.get("proxy_input_tokens"), const)
        self.output_tokens = Counter(catalog.get("proxy_output_tokens"), const)
        self.requests = Counter(catalog.get("proxy_requests"), const)
        self._const = const
        self.in_flight = 0
        self.recording_errors = 0
        self.stream_parse_errors = 0
        self.upstream_errors: dict[str, int] = {}

    def upstream_error(self, kind: str) -> None:
        self.upstream_errors[kind] = self.upstream_errors.get(kind, 0) + 1

    def collect(self) -> tuple[list[MetricFamily], dict[ExemplarKey, Exemplar]]:
        exemplars: dict[ExemplarKey, Exemplar] = {}
        families = [
            i.collect(exemplars)
            for i in (self.ttft, self.itl, self.tpot, self.e2e, self.input_tokens, self.output_tokens, self.requests)
        ]
        families.extend(self._self_families())
        return families, exemplars

    def _self_families(self) -> list[MetricFamily]:
        const = self._const

        def one(name: str, kind: MetricType, help_: str, value: float) -> MetricFamily:
            return MetricFamily(name, kind, help_, (Sample(name, const, value),))

        errors = "llmslo_proxy_upstream_errors_total"
        return [
            one("llmslo_proxy_in_flight_requests", MetricType.GAUGE, "Requests being proxied now.",
                float(self.in_flight)),
            one("llmslo_proxy_recording_errors_total", MetricType.COUNTER,
                "Failures while recording a request's metrics; the request itself was still proxied.",
                float(self.recording_errors)),
            one("llmslo_proxy_stream_parse_errors_total", MetricType.COUNTER,
                "Streamed events whose data was not JSON; forwarded unchanged, not counted as content.",
                float(self.stream_parse_errors)),
            MetricFamily(errors, MetricType.COUNTER, "Upstream failures by kind (connect, timeout, protocol).",
                         tuple(Sample(errors, make_labels((*const, ("kind", k))), float(v))
                               for k, v in sorted(self.upstream_errors.items()))),
        ]
