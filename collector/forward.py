"""Push the derived SLIs onward over OTLP (HTTP/protobuf or gRPC), e.g. to the otelcol pipeline
that writes to Prometheus remote-write or an OTLP backend.

Points are cumulative with the series' own start time, so a consumer computes rates exactly as it
would from Prometheus. Histogram buckets carry exemplars (trace and span id of the last request
in the bucket). The SDK's OTLP exporters do the encoding, retries, headers and TLS; the
`MetricsData` is built directly (re-recording aggregated values through instruments would count
them twice), as the sidecars' OTLP push does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, cast

from opentelemetry.sdk.metrics import Exemplar as SdkExemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import slo
from collector.points import HistogramPoint, MetricSnapshot, ScalarPoint, Snapshot
from slo.catalog import Instrument

logger = logging.getLogger("llmslo.collector.forward")

SCOPE_NAME: Final = "llmslo.collector"
_ABSENT: Final = cast(float, None)  # an unset optional proto field (histogram min/max); see exporters/otlp.py


def _metric(m: MetricSnapshot, now_ns: int) -> Metric | None:
    data: Sum | Gauge | Histogram
    if m.instrument is Instrument.HISTOGRAM:
        points: list[HistogramDataPoint] = []
        for p in m.points:
            assert isinstance(p, HistogramPoint)
            points.append(HistogramDataPoint(
                attributes=dict(p.labels), start_time_unix_nano=p.start_ns, time_unix_nano=now_ns,
                count=p.count, sum=p.sum, bucket_counts=list(p.counts), explicit_bounds=list(p.bounds),
                min=_ABSENT, max=_ABSENT,
                exemplars=[
                    SdkExemplar({}, e.value, e.time_ns, int.from_bytes(e.span_id, "big") or None,
                                int.from_bytes(e.trace_id, "big") or None)
                    for _, e in p.exemplars
                ],
            ))
        data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
    else:
        numbers = [
            NumberDataPoint(attributes=dict(p.labels), start_time_unix_nano=p.start_ns, time_unix_nano=now_ns,
                            value=p.value)
            for p in m.points
            if isinstance(p, ScalarPoint)
        ]
        if m.instrument is Instrument.COUNTER:
            data = Sum(data_points=numbers, aggregation_temporality=AggregationTemporality.CUMULATIVE,
                       is_monotonic=True)
        else:
            data = Gauge(data_points=numbers)
    if not data.data_points:
        return None
    return Metric(name=m.otel_name, description=m.help, unit=m.unit, data=data)


def to_metrics_data(snapshot: Snapshot, resource: Mapping[str, str], now_ns: int) -> MetricsData:
    """Pure: the same snapshot and clock give the same data."""
    metrics = [x for x in (_metric(m, now_ns) for m in snapshot) if x is not None]
    scope = InstrumentationScope(SCOPE_NAME, slo.__version__)
    return MetricsData(resource_metrics=[ResourceMetrics(
        resource=Resource({k: v for k, v in resource.items() if v}),
        scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
        schema_url="",
    )])


def make_exporter(endpoint: str, protocol: str) -> MetricExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        return GrpcExporter(endpoint=endpoint, insecure=not endpoint.startswith("https://"))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

    return HttpExporter(endpoint=endpoint)


class Forwarder:
    """Every `interval` seconds, export a snapshot; a failed push is logged and retried next time
    (cumulative points make a missed push harmless)."""

    def __init__(self, snapshot: Callable[[], Snapshot], exporter: MetricExporter, *, interval: float,
                 resource: Mapping[str, str]) -> None:
        self._snapshot = snapshot
        self._exporter = exporter
        self._interval = interval
        self._resource = dict(resource)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmslo-collector-forward", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def push(self) -> bool:
        try:
            data = to_metrics_data(self._snapshot(), self._resource, time.time_ns())
            result = self._exporter.export(data, timeout_millis=max(1000.0, self._interval * 1000 / 2))
        except Exception:
            logger.exception("OTLP push failed")
            return False
        return bool(result.value == 0)  # MetricExportResult.SUCCESS

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.push()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
        self.push()
        self._exporter.shutdown(timeout_millis=2000)
