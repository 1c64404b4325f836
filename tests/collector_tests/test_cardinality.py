"""A cardinality attack: 100,000 distinct tenant values. The series held stay within the limits,
the folded counter accounts for every folded observation, and totals are never lost."""

from __future__ import annotations

import gc
import tracemalloc

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.store import OTHER, Limits

from .fixtures import llm_request_spans, pinned_store, receiver_for

TENANTS = 100_000
BATCH = 2_000


def attack_batches(template: Span) -> list[bytes]:
    """Each real span re-sent with a unique tenant attribute, in OTLP batches."""
    bodies = []
    for start in range(0, TENANTS, BATCH):
        request = ExportTraceServiceRequest()
        spans = request.resource_spans.add().scope_spans.add().spans
        for i in range(start, start + BATCH):
            span = spans.add()
            span.CopyFrom(template)
            kv = span.attributes.add(key="llmslo.tenant")
            kv.value.string_value = f"tenant-{i}"
        bodies.append(request.SerializeToString())
    return bodies


def test_100k_tenants_are_folded_and_counted() -> None:
    limits = Limits(max_series=500, overflow_series=10)
    store = pinned_store(limits)
    receiver = receiver_for(store)
    template = next(llm_request_spans())
    bodies = attack_batches(template)
    traced_from = len(bodies) - 3
    for body in bodies[:traced_from]:
        assert receiver.handle_http("/v1/traces", body, "application/x-protobuf").status == 200
    # Allocations made while the last 6,000 new tenants arrive and still alive afterwards: a leak of
    # even one small object per tenant would be hundreds of kilobytes. What may stay is bounded by
    # design: the C reader's cache of label strings (256 names, about 20 KiB here).
    tracemalloc.start()
    for body in bodies[traced_from:]:
        assert receiver.handle_http("/v1/traces", body, "application/x-protobuf").status == 200
    gc.collect()  # garbage waiting for the cycle collector is not retained
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert retained < 64 * 1024, retained
    assert store.series_count() <= limits.max_series + limits.overflow_series + 1

    snapshot = {m.prom_name: m for m in store.snapshot()}
    folded = {dict(p.labels)["metric"]: p.value for p in snapshot["llmslo_collector_series_folded_total"].points}
    ttft = snapshot["gen_ai_server_time_to_first_token_seconds"]
    tenants = {dict(p.labels)["tenant"] for p in ttft.points}
    assert len(tenants) == limits.max_series + 1 and OTHER in tenants
    assert folded["gen_ai_server_time_to_first_token_seconds"] == TENANTS - limits.max_series
    assert sum(p.count for p in ttft.points) == TENANTS  # every request is still counted once
    other = next(p for p in ttft.points if dict(p.labels)["tenant"] == OTHER)
    assert other.count == TENANTS - limits.max_series


def test_tenant_allowlist_and_expiry() -> None:
    now = [0.0]
    from collector.goodput import GoodputSLO  # noqa: F401
    from collector.store import Store

    store = Store(Limits(tenant_allowlist=frozenset({"tenant-1"}), stale_after_s=60), (),
                  wall_ns=lambda: 1, monotonic=lambda: now[0])
    receiver = receiver_for(store)
    template = next(llm_request_spans())
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for i in range(3):
        span = spans.add()
        span.CopyFrom(template)
        span.attributes.add(key="llmslo.tenant").value.string_value = f"tenant-{i}"
    receiver.export_traces(request)
    snapshot = {m.prom_name: m for m in store.snapshot()}
    ttft = snapshot["gen_ai_server_time_to_first_token_seconds"]
    assert {dict(p.labels)["tenant"]: p.count for p in ttft.points} == {"tenant-1": 1, OTHER: 2}
    assert snapshot["llmslo_collector_tenants_folded_total"].points[0].value == 2
    now[0] = 120.0
    snapshot = {m.prom_name: m for m in store.snapshot()}
    assert "gen_ai_server_time_to_first_token_seconds" not in snapshot
    expired = {dict(p.labels)["metric"]: p.value for p in snapshot["llmslo_collector_series_expired_total"].points}
    assert expired["gen_ai_server_time_to_first_token_seconds"] == 2
    assert store.series_count() == 0
