"""Ingest rate of the llmslo collector, per core, next to the rate at which the same payloads merely
parse (protobuf decode only) in the same run.

Payloads come from the real captures: `llm_request` spans from fixtures/vllm-0.32-cpu/traces-5.bin
(re-sent in batches of --batch spans over --tenants tenants), and OTLP metrics made from
fixtures/vllm-0.32-cpu/metrics-after-21-requests.prom as otelcol's prometheus receiver converts a
scrape (tests/collector_tests/promreceiver.py), once per --sources pods.

Per core: one thread, CPU time of this process (time.process_time), so other load on the machine
changes the figures less than wall time would. Parse-only and ingest rounds alternate, and each
figure is the median over rounds (the ratio is the median of per-round ratios), so a burst of
load on a shared machine moves both sides of the ratio alike. Three figures per signal:

* parse-only: `ExportXServiceRequest.ParseFromString` on each body;
* ingest: `Receiver.handle_http` (decode, derive, aggregate, reply), the whole OTLP/HTTP work
  except the socket, plus flushing the store's batched aggregation at the end of each round;
* http: the same bodies POSTed over one keep-alive connection to a running service (wall time,
  client and server in this process; indicative only).

    .venv/bin/python bench/collector/bench_collector.py [--batch 512] [--rounds 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.metrics_in import MetricIngest
from collector.receiver import PROTOBUF, Receiver
from collector.service import Service, Settings
from collector.spans import SpanContextConfig
from collector.store import Store
from collector.traces import TraceIngest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "vllm-0.32-cpu"


def _promreceiver() -> Any:
    path = REPO / "tests" / "collector_tests" / "promreceiver.py"
    spec = importlib.util.spec_from_file_location("promreceiver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def span_bodies(batch: int, tenants: int, count: int) -> list[bytes]:
    capture = ExportTraceServiceRequest.FromString((FIXTURES / "traces-5.bin").read_bytes())
    spans = [s for rs in capture.resource_spans for ss in rs.scope_spans for s in ss.spans if s.name == "llm_request"]
    bodies = []
    n = 0
    for _ in range(count):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.CopyFrom(capture.resource_spans[0].resource)
        out = rs.scope_spans.add().spans
        for _ in range(batch):
            span = out.add()
            span.CopyFrom(spans[n % len(spans)])
            span.attributes.add(key="llmslo.tenant").value.string_value = f"tenant-{n % tenants}"
            n += 1
        bodies.append(request.SerializeToString())
    return bodies


def metric_bodies(sources: int) -> tuple[list[bytes], int]:
    pr = _promreceiver()
    text = (FIXTURES / "metrics-after-21-requests.prom").read_text(encoding="utf-8")
    bodies = []
    points = 0
    for i in range(sources):
        request = pr.scrape_to_otlp(text, job="vllm", instance=f"10.0.0.{i}:8000",
                                    resource={"k8s.namespace.name": "llm", "k8s.pod.name": f"vllm-{i}"})
        bodies.append(request.SerializeToString())
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    points += len(getattr(m, kind).data_points) if kind else 0
    return bodies, points


def cpu_rates(parse: Callable[[], object], ingest: Callable[[], object], items: int,
              rounds: int) -> tuple[float, float, float]:
    """(parse-only per s, ingest per s, ingest over parse): medians over alternating rounds."""
    parse()
    ingest()  # warm: caches, first series
    gc.collect()
    parse_rates, ingest_rates, ratios = [], [], []
    for _ in range(rounds):
        start = time.process_time()
        parse()
        middle = time.process_time()
        ingest()
        end = time.process_time()
        parse_rates.append(items / (middle - start))
        ingest_rates.append(items / (end - middle))
        ratios.append((middle - start) / (end - middle))
    return statistics.median(parse_rates), statistics.median(ingest_rates), statistics.median(ratios)


def http_rate(path: str, bodies: list[bytes], items: int, rounds: int) -> float:
    with Service(Settings(host="127.0.0.1", http_port=0, grpc_port=None,
                          spans=SpanContextConfig(default_model="tiny"))) as svc, httpx.Client() as client:
        url = f"http://127.0.0.1:{svc.http_port}{path}"
        headers = {"Content-Type": PROTOBUF}
        for body in bodies:
            client.post(url, content=body, headers=headers)
        start = time.perf_counter()
        for _ in range(rounds):
            for body in bodies:
                assert client.post(url, content=body, headers=headers).status_code == 200
        return items * rounds / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512, help="spans per export request")
    parser.add_argument("--requests", type=int, default=8, help="distinct span bodies")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--sources", type=int, default=8, help="distinct vLLM pods in the metric bodies")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args(argv)

    bodies = span_bodies(args.batch, args.tenants, args.requests)
    spans = args.batch * args.requests
    store = Store()
    receiver = Receiver(store, TraceIngest(store, SpanContextConfig(default_model="tiny")), MetricIngest(store),
                        max_inflight=1)

    def parse_spans() -> None:
        for b in bodies:
            ExportTraceServiceRequest.FromString(b)

    def ingest_spans() -> None:
        for b in bodies:
            receiver.handle_http("/v1/traces", b, PROTOBUF)
        with store.lock:
            store.flush()  # aggregation is batched: count all of it, not only what ran so far

    mbodies, points = metric_bodies(args.sources)

    def parse_metrics() -> None:
        for b in mbodies:
            ExportMetricsServiceRequest.FromString(b)

    def ingest_metrics() -> None:
        for b in mbodies:
            receiver.handle_http("/v1/metrics", b, PROTOBUF)

    span_parse, span_ingest, span_ratio = cpu_rates(parse_spans, ingest_spans, spans, args.rounds)
    point_parse, point_ingest, point_ratio = cpu_rates(parse_metrics, ingest_metrics, points, args.rounds)
    results: dict[str, Any] = {
        "python": platform.python_version(), "machine": platform.machine(), "batch": args.batch,
        "spans": {
            "parse_only_per_s": span_parse,
            "ingest_per_s": span_ingest,
            "ingest_over_parse": span_ratio,
            "http_per_s": http_rate("/v1/traces", bodies, spans, max(1, args.rounds // 4)),
        },
        "metric_points": {
            "points_per_body": points // max(1, len(mbodies)),
            "parse_only_per_s": point_parse,
            "ingest_per_s": point_ingest,
            "ingest_over_parse": point_ratio,
            "http_per_s": http_rate("/v1/metrics", mbodies, points, max(1, args.rounds // 4)),
        },
    }
    for signal in ("spans", "metric_points"):
        r = results[signal]
        print(f"{signal:14s} parse-only {r['parse_only_per_s']:>12,.0f}/s per core   "
              f"ingest {r['ingest_per_s']:>10,.0f}/s per core ({r['ingest_over_parse']:.2f} of parse)   "
              f"http {r['http_per_s']:>10,.0f}/s")
    target = results["spans"]
    print(f"targets: spans >= 50,000/s per core: {'met' if target['ingest_per_s'] >= 50_000 else 'NOT met'}; "
          f">= 1/3 of parse-only: {'met' if target['ingest_over_parse'] >= 1 / 3 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
