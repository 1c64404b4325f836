"""OtlpPusher against real OTLP receivers: an HTTP server decoding /v1/metrics and a gRPC
MetricsService, both in-process on loopback.

The families come from the real vLLM 0.32 capture through the sidecar's own pipeline, and every
expected number is read from the capture itself, so the tests check the whole path (parse, map,
convert, encode, transport) against what the engine really exposed.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import accumulate

import grpc  # type: ignore[import-untyped]  # grpcio ships no type hints
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from support.captures import VLLM_032, read

import slo
from exporters.otlp import SCOPE_NAME, OtlpPusher
from exporters.pipeline import VLLM, process
from exporters.selfmetrics import info_families
from slo.catalog import CATALOG
from slo.metrics.model import MetricFamily, MetricType, Sample

CAPTURE = VLLM_032 / "metrics-after-21-requests.prom"
CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
PROTOCOLS = ("http/protobuf", "grpc")
WAIT_S = 15.0


# --- receivers ---------------------------------------------------------------------------------


@dataclass
class Store:
    """What a receiver got; `arrived` is set on the first request."""

    requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: ExportMetricsServiceRequest) -> None:
        with self.lock:
            self.requests.append(request)
        self.arrived.set()

    def last(self) -> ExportMetricsServiceRequest:
        with self.lock:
            assert self.requests, "no OTLP request arrived"
            return self.requests[-1]


@dataclass(frozen=True)
class Receiver:
    protocol: str
    endpoint: str
    store: Store


@contextlib.contextmanager
def _http_receiver() -> Iterator[Receiver]:
    store = Store()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/metrics":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            store.add(request)
            answer = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver("http/protobuf", f"http://127.0.0.1:{server.server_address[1]}/v1/metrics", store)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    def Export(
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        self._store.add(request)
        return ExportMetricsServiceResponse()


@contextlib.contextmanager
def _grpc_receiver() -> Iterator[Receiver]:
    store = Store()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _MetricsService(store), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        # No scheme, as in the CLI's `collector:4317` example: must be plaintext.
        yield Receiver("grpc", f"127.0.0.1:{port}", store)
    finally:
        server.stop(grace=None).wait(5)


@pytest.fixture(params=PROTOCOLS)
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    make = _http_receiver if request.param == "http/protobuf" else _grpc_receiver
    with make() as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the capture, read independently of the code under test ------------------------------------


def capture_series(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of series `name` in an exposition: (labels, value). Simple on purpose: the
    capture has no escaped quotes or commas in label values."""
    out: list[tuple[dict[str, str], float]] = []
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        rest = line[len(name):]
        if rest.startswith("{"):
            body, _, value = rest[1:].partition("} ")
            labels = dict((k, v.strip('"')) for k, v in (p.split("=", 1) for p in body.split(",") if p))
        elif rest.startswith(" "):
            labels, value = {}, rest
        else:
            continue  # a longer name sharing the prefix
        out.append((labels, float(value.split()[0])))
    return out


def capture_value(text: str, name: str) -> float:
    series = capture_series(text, name)
    assert len(series) == 1, f"{name}: expected one series in the capture, got {series}"
    return series[0][1]


def canonical_families(text: str) -> tuple[MetricFamily, ...]:
    """What the sidecar renders: the canonical SLIs plus its mapping-info families (which are not
    catalog SLIs and must not be pushed)."""
    result = process(text, VLLM, live=False)
    return (*result.families, *info_families("vllm", result.schema, result.notes))


# --- helpers -----------------------------------------------------------------------------------


def attrs(pairs: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in pairs}


def find_metric(request: ExportMetricsServiceRequest, name: str) -> metrics_pb2.Metric:
    found: list[metrics_pb2.Metric] = [
        m
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
    ]
    assert len(found) == 1, f"{name}: expected once, got {len(found)}"
    return found[0]


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


RESOURCE = {
    "service.name": "llmslo-exporter-vllm",
    "k8s.pod.name": "",  # an unset Downward API variable: must be dropped, not sent empty
    "k8s.namespace.name": "llm",
}


# --- tests -------------------------------------------------------------------------------------


def test_push_delivers_canonical_slis(receiver: Receiver) -> None:
    text = read(CAPTURE)
    families = canonical_families(text)
    pusher = OtlpPusher(lambda: families, endpoint=receiver.endpoint, protocol=receiver.protocol,
                        interval=0.05, resource=RESOURCE)
    pusher.start()
    try:
        assert receiver.store.arrived.wait(WAIT_S), "no OTLP request arrived"
        wait_until(lambda: pusher.exports >= 1)
    finally:
        started = time.monotonic()
        pusher.shutdown()
        assert time.monotonic() - started < 4.0
    assert pusher.exports >= 1
    assert pusher.failures == 0
    request = receiver.store.last()

    (resource_metrics,) = request.resource_metrics
    resource = attrs(resource_metrics.resource.attributes)
    assert resource["service.name"] == "llmslo-exporter-vllm"
    assert resource["k8s.namespace.name"] == "llm"
    assert "k8s.pod.name" not in resource
    (scope_metrics,) = resource_metrics.scope_metrics
    assert (scope_metrics.scope.name, scope_metrics.scope.version) == (SCOPE_NAME, slo.__version__)
    catalog_names = {sli.otel_name for sli in CATALOG}
    pushed = {m.name for m in scope_metrics.metrics}
    assert pushed <= catalog_names, f"non-SLI families pushed: {pushed - catalog_names}"

    # TTFT: a cumulative explicit-bucket histogram reproducing the capture exactly.
    base = "vllm:time_to_first_token_seconds"
    buckets = sorted((float(labels["le"]), value) for labels, value in capture_series(text, base + "_bucket"))
    ttft = find_metric(request, "gen_ai.server.time_to_first_token")
    assert ttft.unit == "s"
    assert ttft.WhichOneof("data") == "histogram"
    assert ttft.histogram.aggregation_temporality == CUMULATIVE
    (point,) = ttft.histogram.data_points
    labels = attrs(point.attributes)
    assert labels["model_name"] == "tiny"
    assert labels["engine"] == "0"
    assert "le" not in labels
    assert point.count == capture_value(text, base + "_count")
    assert point.sum == capture_value(text, base + "_sum")
    assert sum(point.bucket_counts) == point.count
    assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
    assert list(point.explicit_bounds) == [le for le, _ in buckets if le != float("inf")]
    assert list(accumulate(point.bucket_counts)) == [value for _, value in buckets]
    assert not point.HasField("min")
    assert not point.HasField("max")
    assert 0 < point.start_time_unix_nano <= point.time_unix_nano

    # Output tokens: a monotonic cumulative sum equal to vLLM's counter.
    tokens = find_metric(request, "llmslo.engine.output_tokens")
    assert tokens.unit == "{token}"
    assert tokens.WhichOneof("data") == "sum"
    assert tokens.sum.is_monotonic
    assert tokens.sum.aggregation_temporality == CUMULATIVE
    (number,) = tokens.sum.data_points
    assert number.as_double == capture_value(text, "vllm:generation_tokens_total")
    assert attrs(number.attributes) == {"model_name": "tiny", "engine": "0"}
    assert number.start_time_unix_nano == point.start_time_unix_nano

    # A gauge comes through as a gauge.
    running = find_metric(request, "llmslo.engine.requests.running")
    assert running.WhichOneof("data") == "gauge"
    assert running.gauge.data_points[0].as_double == capture_value(text, "vllm:num_requests_running")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unreachable_endpoint_is_counted_not_raised(
    protocol: str, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    families = canonical_families(read(CAPTURE))
    endpoint = f"http://127.0.0.1:{closed_port}/v1/metrics" if protocol == "http/protobuf" else (
        f"127.0.0.1:{closed_port}")
    pusher = OtlpPusher(lambda: families, endpoint=endpoint, protocol=protocol, interval=0.05,
                        timeout=0.5, resource=RESOURCE)
    with caplog.at_level(logging.DEBUG, logger="llmslo.exporter.otlp"):
        pusher.start()
        try:
            wait_until(lambda: pusher.failures >= 2)
        finally:
            started = time.monotonic()
            pusher.shutdown()
            elapsed = time.monotonic() - started
    assert elapsed < 4.0
    assert pusher.exports == 0
    ours = [r for r in caplog.records if r.name == "llmslo.exporter.otlp"]
    assert len([r for r in ours if r.levelno >= logging.WARNING]) == 1, "logged once, then DEBUG"
    assert any(r.levelno == logging.DEBUG for r in ours)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shutdown_interrupts_retry_backoff(protocol: str, closed_port: int) -> None:
    """With the exporters' default 10 s budget a refused connection is retried with backoff;
    shutdown must not wait for it."""
    families = canonical_families(read(CAPTURE))
    pusher = OtlpPusher(lambda: families, endpoint=f"127.0.0.1:{closed_port}", protocol=protocol,
                        interval=0.01)
    pusher.start()
    time.sleep(0.3)  # inside the first export's retry backoff by now
    started = time.monotonic()
    pusher.shutdown()
    assert time.monotonic() - started < 4.0
    assert pusher.exports == 0


def test_snapshot_errors_are_caught() -> None:
    def broken() -> tuple[MetricFamily, ...]:
        raise RuntimeError("collect failed")

    pusher = OtlpPusher(broken, endpoint="127.0.0.1:1", interval=60)
    assert pusher.push_once() is False
    assert pusher.failures == 1
    started = time.monotonic()
    pusher.shutdown()
    assert time.monotonic() - started < 4.0


def test_visible_reset_gets_a_new_start_time() -> None:
    """A counter the sidecar lets go down (it cannot always hide a reset) must not reach OTLP as a
    cumulative series that decreased under the same start time."""
    values = iter((10.0, 12.0, 3.0, 4.0))
    name = "llmslo_engine_output_tokens_total"
    labels = (("engine", "0"), ("model_name", "tiny"))

    def snapshot() -> tuple[MetricFamily, ...]:
        sample = Sample(name, labels, next(values))
        return (MetricFamily(name, MetricType.COUNTER, "", (sample,)),)

    with _http_receiver() as rec:
        pusher = OtlpPusher(snapshot, endpoint=rec.endpoint, interval=60, resource=RESOURCE)
        for _ in range(4):
            assert pusher.push_once()
        pusher.shutdown()
    points = [find_metric(r, "llmslo.engine.output_tokens").sum.data_points[0] for r in rec.store.requests]
    assert [p.as_double for p in points] == [10.0, 12.0, 3.0, 4.0]
    first, second, third, fourth = points
    assert first.start_time_unix_nano == second.start_time_unix_nano
    assert third.start_time_unix_nano == second.time_unix_nano
    assert fourth.start_time_unix_nano == third.start_time_unix_nano
