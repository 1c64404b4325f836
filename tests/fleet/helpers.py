"""Shared bits of the fleet tests: real-capture loading and a simulated fleet at a given time."""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span
from support.captures import VLLM_032, read

from bench.fleet import Fleet, FleetSpec

CAPTURES = ("metrics-after-21-requests.prom", "metrics-after-load.prom", "metrics-idle-after-1-request.prom")


def real_capture(name: str = CAPTURES[0]) -> str:
    return read(VLLM_032 / name)


def real_spans() -> Iterator[tuple[Resource, ScopeSpans, Span]]:
    """Every `llm_request` span in the real OTLP exports, with its resource and scope."""
    for path in sorted(VLLM_032.glob("traces-*.bin")):
        request = ExportTraceServiceRequest()
        request.ParseFromString(path.read_bytes())
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if span.name == "llm_request":
                        yield rs.resource, ss, span


def fleet_at(pods: int, seed: int, seconds: float, rate: float = 3.0, abort_prob: float = 0.002) -> Fleet:
    fleet = Fleet(FleetSpec(pods=pods, seed=seed, rate_per_pod=rate, abort_prob=abort_prob), keep_finished=True)
    fleet.advance_all(fleet.spec.start + seconds)
    return fleet
