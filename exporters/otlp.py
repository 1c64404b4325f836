"""Push the sidecar's canonical SLI families over OTLP (HTTP/protobuf or gRPC).

The families are already aggregated by the engine: cumulative counters, gauges and cumulative
histograms. Re-recording them through OTel instruments would double-aggregate (a counter would
count its own totals), so they are converted to the SDK's `MetricsData` directly and handed to the
real OTLP exporters (`opentelemetry-exporter-otlp`), which own encoding, headers from
`OTEL_EXPORTER_OTLP_*`, TLS, compression and retries.

Two choices worth knowing:

* Start times. A cumulative point needs the time its accumulation began. The sidecar's
  `Continuity` keeps its counters and histograms monotonic across engine restarts, so for the
  life of this pusher a series normally never goes down and one start time (when the pusher
  started) is right for all of them. The one exception is a reset the sidecar leaves visible (a
  histogram whose bucket layout changed, see slo.mapping.continuity): the pusher notices the
  drop and gives that series a new start time (the previous push), so a consumer sees a reset, as
  OTLP requires, instead of a cumulative series that went down under the same start time.
* Histogram min/max. Prometheus histograms carry no min or max. OTLP makes both `optional`, and
  absent is the only truthful value; `HistogramDataPoint` declares them as required `float`s,
  though. The SDK's encoder passes them straight to the protobuf constructor, which treats `None`
  as "field not set" (both the upb and pure-Python backends), so `None` is passed and the fields
  never reach the wire. NaN would be encoded as a present NaN, and the SDK's own
  no-min/max convention (+Inf/-Inf, from `record_min_max=False`) would be encoded as present
  infinities; a backend would show either as real values. The integration tests check that
  min and max are absent on the wire.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Final, cast
from urllib.parse import urlsplit

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import slo
from slo.catalog import CATALOG, SLI, Instrument
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample

logger = logging.getLogger("llmslo.exporter.otlp")

SCOPE_NAME: Final = "llmslo.exporters"
PROTOCOLS: Final = ("http/protobuf", "grpc")
HTTP_METRICS_PATH: Final = "/v1/metrics"
SHUTDOWN_GRACE_S: Final = 0.5
"""How long shutdown lets an in-flight push finish when the collector has not been answering."""

SeriesKey = tuple[str, Labels]
"""(family name, labels without `le`): one counter series or one histogram child."""

Snapshot = Callable[[], Iterable[MetricFamily]]

_ABSENT: Final = cast(float, None)
"""An unset optional proto field; see the module docstring (histogram min/max)."""

_PROM_TYPE: Final = {
    Instrument.COUNTER: MetricType.COUNTER,
    Instrument.GAUGE: MetricType.GAUGE,
    Instrument.HISTOGRAM: MetricType.HISTOGRAM,
}


@cache
def _by_prom_name() -> dict[str, SLI]:
    """The catalog indexed by the Prometheus name the sidecar exposes; built once."""
    return {sli.prom_name: sli for sli in CATALOG}


# --------------------------------------------------------------------------------------------
# Pure conversion
# --------------------------------------------------------------------------------------------


def families_to_metrics_data(
    families: Iterable[MetricFamily],
    resource: Mapping[str, str],
    start_ns: int,
    now_ns: int,
    *,
    series_start: Mapping[SeriesKey, int] | None = None,
    include_unlisted: bool = False,
) -> MetricsData:
    """Canonical families -> one ResourceMetrics with one `llmslo.exporters` scope.

    Catalog SLIs get their OTel name, unit and summary; families not in the catalog (mapping
    info, the exporter's self metrics) are skipped unless `include_unlisted`, in which case they
    keep their Prometheus name and help, with no unit. `series_start` overrides `start_ns` for
    series whose reset was detected (see `OtlpPusher`). No clock and no I/O: the same input gives
    the same output.
    """
    starts = series_start or {}
    metrics: list[Metric] = []
    for family in families:
        metric = _convert_family(family, start_ns, now_ns, starts, include_unlisted)
        if metric is not None:
            metrics.append(metric)
    scope = InstrumentationScope(SCOPE_NAME, slo.__version__)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource({k: v for k, v in resource.items() if v != ""}),
                scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                schema_url="",
            )
        ]
    )


def _convert_family(
    family: MetricFamily,
    start_ns: int,
    now_ns: int,
    starts: Mapping[SeriesKey, int],
    include_unlisted: bool,
) -> Metric | None:
    sli = _by_prom_name().get(family.name)
    if sli is not None:
        if family.type is not _PROM_TYPE[sli.instrument]:
            return None  # the mapper never produces this; refuse rather than mislabel
        name, unit, description = sli.otel_name, sli.unit, sli.summary
    elif include_unlisted and family.type in (MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM):
        name, unit, description = family.name, "", family.help
    else:
        return None
    data: Sum | Gauge | Histogram
    if family.type is MetricType.COUNTER:
        data = Sum(
            data_points=[
                NumberDataPoint(
                    attributes=dict(s.labels),
                    start_time_unix_nano=starts.get((family.name, s.labels), start_ns),
                    time_unix_nano=now_ns,
                    value=float(s.value),
                )
                for s in family.samples
                if s.name == family.name
            ],
            aggregation_temporality=AggregationTemporality.CUMULATIVE,
            is_monotonic=True,
        )
    elif family.type is MetricType.GAUGE:
        data = Gauge(
            data_points=[
                NumberDataPoint(
                    attributes=dict(s.labels),
                    start_time_unix_nano=start_ns,  # not encoded for gauges
                    time_unix_nano=now_ns,
                    value=float(s.value),
                )
                for s in family.samples
                if s.name == family.name
            ]
        )
    else:
        points: list[HistogramDataPoint] = []
        for labels, child in _histogram_children(family).items():
            point = _histogram_point(child, labels, starts.get((family.name, labels), start_ns), now_ns)
            if point is not None:
                points.append(point)
        data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
    if not data.data_points:
        return None
    return Metric(name=name, description=description, unit=unit, data=data)


class _Child:
    """One histogram child's samples, gathered from the family's flat sample list."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets: list[tuple[float, float]] = []
        self.count: float | None = None
        self.sum: float | None = None


def _histogram_children(family: MetricFamily) -> dict[Labels, _Child]:
    children: dict[Labels, _Child] = {}
    base = family.name
    for s in family.samples:
        suffix = s.name[len(base):] if s.name.startswith(base) else ""
        if suffix == "_bucket":
            le = _parse_le(s)
            if le is not None:
                key = tuple(p for p in s.labels if p[0] != "le")
                children.setdefault(key, _Child()).buckets.append((le, s.value))
        elif suffix == "_count":
            children.setdefault(s.labels, _Child()).count = s.value
        elif suffix == "_sum":
            children.setdefault(s.labels, _Child()).sum = s.value
    return children


def _parse_le(sample: Sample) -> float | None:
    try:
        le = float(sample.label("le"))
    except ValueError:
        return None
    return None if math.isnan(le) else le


def _histogram_point(child: _Child, labels: Labels, start_ns: int, now_ns: int) -> HistogramDataPoint | None:
    """Cumulative Prometheus buckets -> OTLP's per-bucket counts, or None for a child that cannot
    be a histogram (no +Inf bucket, no _sum, counts going down, duplicate bounds).

    OTLP's `bucket_counts[i]` counts observations in (bounds[i-1], bounds[i]], the last one the
    overflow above the largest finite bound, so there is one more count than bounds and the counts
    add up to `count`. The +Inf bucket is taken as the count, which is what makes that sum exact;
    the mapper has already checked it equals `_count`.
    """
    buckets = sorted(child.buckets)
    if not buckets or not math.isinf(buckets[-1][0]) or child.sum is None:
        return None
    bounds = [le for le, _ in buckets[:-1]]
    if len(set(bounds)) != len(bounds) or any(math.isinf(b) for b in bounds):
        return None
    counts: list[int] = []
    previous = 0
    for _, cumulative in buckets:
        if not math.isfinite(cumulative):
            return None
        current = round(cumulative)
        if current < previous:
            return None
        counts.append(current - previous)
        previous = current
    return HistogramDataPoint(
        attributes=dict(labels),
        start_time_unix_nano=start_ns,
        time_unix_nano=now_ns,
        count=previous,
        sum=child.sum,
        bucket_counts=counts,
        explicit_bounds=bounds,
        min=_ABSENT,
        max=_ABSENT,
    )


# --------------------------------------------------------------------------------------------
# Reset detection
# --------------------------------------------------------------------------------------------


class _ResetTracker:
    """Remembers each cumulative series' last values to notice a visible reset.

    A series went back when a counter value, a histogram's count or any of its cumulative buckets
    is lower than last time, or its bucket layout changed. Such a series restarts its accumulation
    after the previous push, so that push's time becomes its start time.
    """

    def __init__(self) -> None:
        self._last: dict[SeriesKey, tuple[tuple[float, float], ...]] = {}
        self.starts: dict[SeriesKey, int] = {}

    def observe(self, families: Iterable[MetricFamily], previous_push_ns: int) -> None:
        seen: dict[SeriesKey, tuple[tuple[float, float], ...]] = {}
        for family in families:
            if family.type is MetricType.COUNTER:
                for s in family.samples:
                    if s.name == family.name:
                        seen[(family.name, s.labels)] = ((math.inf, s.value),)
            elif family.type is MetricType.HISTOGRAM:
                for labels, child in _histogram_children(family).items():
                    seen[(family.name, labels)] = tuple(sorted(child.buckets))
        for key, current in seen.items():
            last = self._last.get(key)
            if last is not None and _went_back(last, current):
                self.starts[key] = previous_push_ns
        # Series that vanished (target down) keep their state: the sidecar resumes them where
        # they were, so they must not count as new when they come back.
        self._last.update(seen)


def _went_back(last: tuple[tuple[float, float], ...], current: tuple[tuple[float, float], ...]) -> bool:
    if [le for le, _ in last] != [le for le, _ in current]:
        return True
    return any(now < before for (_, before), (_, now) in zip(last, current, strict=True))


# --------------------------------------------------------------------------------------------
# The pusher
# --------------------------------------------------------------------------------------------


def make_exporter(endpoint: str, protocol: str, *, timeout: float | None = None) -> MetricExporter:
    """The real OTLP metric exporter for `protocol`.

    HTTP: the URL is used as given (OTel's rule for a signal endpoint), except that a missing
    scheme gets `http://` and an empty path gets `/v1/metrics`, the two mistakes that would
    otherwise fail every push with a confusing error. gRPC: plaintext unless the endpoint says
    `https://`, since an in-cluster collector on `collector:4317` is the common case and the
    exporter would otherwise try TLS for a scheme-less endpoint. `timeout` (seconds per export,
    retries included) defaults to the exporter's own (OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, 10 s).
    """
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(endpoint=http_endpoint(endpoint), timeout=timeout)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        insecure = not endpoint.strip().lower().startswith("https://")
        return GrpcMetricExporter(endpoint=endpoint.strip(), insecure=insecure, timeout=timeout)
    raise ValueError(f"unknown OTLP protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def http_endpoint(endpoint: str) -> str:
    url = endpoint.strip()
    if "://" not in url:
        url = "http://" + url
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + HTTP_METRICS_PATH
    return url


class OtlpPusher:
    """Pushes `snapshot()` every `interval` seconds from a daemon thread.

    Nothing escapes the thread: an exception from the snapshot or the exporter, and an export
    the exporter reports as failed, are logged (once per kind at WARNING, then at DEBUG, so a
    collector that is down for hours does not flood the log) and counted in `failures`;
    delivered pushes are counted in `exports`. An empty snapshot (the target is down) is not
    pushed at all, so the collector sees the series go stale rather than repeat.

    `timeout` bounds one export, retries included (default: the exporter's, 10 s or
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT); `exporter` replaces the one built from `endpoint` and
    `protocol` (another transport, or a test double); `include_unlisted` also pushes families that
    are not catalog SLIs.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        endpoint: str,
        protocol: str = "http/protobuf",
        interval: float = 15.0,
        resource: Mapping[str, str] | None = None,
        timeout: float | None = None,
        include_unlisted: bool = False,
        exporter: MetricExporter | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"OTLP interval must be positive, got {interval}")
        self._snapshot = snapshot
        self._interval = interval
        self._resource = {k: v for k, v in (resource or {}).items() if v != ""}
        self._include_unlisted = include_unlisted
        self._exporter = exporter if exporter is not None else make_exporter(endpoint, protocol, timeout=timeout)
        self._stop = threading.Event()
        self._push_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._abandoned = False
        self._closed = False
        self._logged: set[str] = set()
        self._resets = _ResetTracker()
        self._start_ns = time.time_ns()
        self._last_seen_ns = self._start_ns
        self._last_ok = False
        self.exports = 0
        self.failures = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("OtlpPusher already started")
        self._start_ns = self._last_seen_ns = time.time_ns()
        self._thread = threading.Thread(target=self._run, name="llmslo-otlp-push", daemon=True)
        self._thread.start()

    def push_once(self) -> bool:
        """One snapshot -> convert -> export; True when the collector accepted it (or there was
        nothing to push). Safe to call from any thread; pushes never overlap."""
        with self._push_lock:
            try:
                families = tuple(self._snapshot())
                now_ns = time.time_ns()
                self._resets.observe(families, self._last_seen_ns)
                self._last_seen_ns = now_ns
                data = families_to_metrics_data(
                    families,
                    self._resource,
                    self._start_ns,
                    now_ns,
                    series_start=self._resets.starts,
                    include_unlisted=self._include_unlisted,
                )
                if not data.resource_metrics[0].scope_metrics[0].metrics:
                    return True
                result = self._exporter.export(data)
            except Exception as exc:  # a push must never take the sidecar down
                self.failures += 1
                self._last_ok = False
                self._report(type(exc).__name__, f"OTLP push failed: {exc!r}", exc)
                return False
            if result is MetricExportResult.SUCCESS:
                self.exports += 1
                if not self._last_ok and self.failures:
                    logger.info("OTLP push succeeded again after %d failures", self.failures)
                self._last_ok = True
                return True
            self.failures += 1
            self._last_ok = False
            self._report("export_failed", "OTLP export failed (the exporter logged why)", None)
            return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop pushing, flush once if the collector was reachable, and shut the exporter down.

        When the last push succeeded, the thread gets up to `timeout` seconds for a final flush
        (the increments since the last push). Otherwise it gets `SHUTDOWN_GRACE_S`, enough for an
        in-flight push to a healthy collector to finish, and then the exporter is shut down under
        it, which aborts the retry backoff a push to a failing collector sleeps in (up to the
        export timeout, 10 s by default): a pod being terminated must not wait for that.
        """
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout if self._last_ok else min(timeout, SHUTDOWN_GRACE_S))
        self._abandoned = True
        self._exporter.shutdown()
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), SHUTDOWN_GRACE_S))
            if thread.is_alive():
                logger.warning("OTLP push thread still running after shutdown; abandoning it")

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.push_once()
        if self._last_ok and not self._abandoned:
            self.push_once()  # the increments since the last push, before the process exits

    def _report(self, kind: str, message: str, exc: BaseException | None) -> None:
        if kind in self._logged:
            logger.debug("%s", message, exc_info=exc)
            return
        self._logged.add(kind)
        logger.warning("%s; further %s errors are logged at DEBUG", message, kind, exc_info=exc)
