"""The OTLP push onward: one collector's derived SLIs, pushed by the SDK's OTLP exporter into a
second collector, arrive with the same counts and sums, as cumulative points with exemplars."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from collector.forward import Forwarder
from collector.receiver import PROTOBUF
from collector.service import Service, Settings
from collector.spans import SpanContextConfig

from .fixtures import TRACE_CAPTURES, llm_request_spans

TTFT = "gen_ai_server_time_to_first_token_seconds"


def test_pushed_slis_arrive_intact_with_exemplars() -> None:
    settings = Settings(host="127.0.0.1", http_port=0, grpc_port=None, spans=SpanContextConfig(default_model="tiny"))
    with Service(settings) as source, Service(settings) as sink:
        received: list[ExportMetricsServiceRequest] = []
        ingest = sink.receiver.metrics.ingest

        def recording(request: ExportMetricsServiceRequest):  # type: ignore[no-untyped-def]
            copy = ExportMetricsServiceRequest()
            copy.CopyFrom(request)
            received.append(copy)
            return ingest(request)

        sink.receiver.metrics.ingest = recording  # type: ignore[method-assign]
        for path in TRACE_CAPTURES:
            assert source.receiver.handle_http("/v1/traces", path.read_bytes(), PROTOBUF).status == 200
        exporter = OTLPMetricExporter(endpoint=f"http://127.0.0.1:{sink.http_port}/v1/metrics")
        forwarder = Forwarder(source.store.snapshot, exporter, interval=3600, resource={"service.name": "a"})
        assert forwarder.push()
        exporter.shutdown()

        sent = next(m for m in source.store.snapshot() if m.prom_name == TTFT).points[0]
        got = next(m for m in sink.store.snapshot() if m.prom_name == TTFT).points[0]
        assert (got.count, got.sum, got.counts) == (sent.count, sent.sum, sent.counts)

        metric = next(m for r in received for rm in r.resource_metrics for sm in rm.scope_metrics
                      for m in sm.metrics if m.name == "gen_ai.server.time_to_first_token")
        assert metric.unit == "s"
        assert metric.histogram.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
        exemplar_ids = {e.trace_id for p in metric.histogram.data_points for e in p.exemplars}
        assert exemplar_ids and exemplar_ids <= {s.trace_id for s in llm_request_spans()}
