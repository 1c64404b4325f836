"""A real vLLM 0.32 (CPU) started with --otlp-traces-endpoint pointing at the processor: after N
streamed requests the TTFT histogram counts N and every sum equals the sum of the spans' own
attributes, and token counters equal what the clients were told in `usage`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from support.real_vllm import VllmServer, VllmUnavailableError, start_vllm, stream_completion

from collector.goodput import GoodputSLO
from collector.service import Service, Settings
from collector.spans import SpanContextConfig

from .fixtures import attribute

pytestmark = pytest.mark.e2e

REQUESTS = 6
SPAN_WAIT_S = 60.0  # vLLM's BatchSpanProcessor exports every 5 s; this is a deadline, not an assertion
SLO = GoodputSLO("interactive", (("tpot", 0.1), ("ttft", 0.5)))


class Traced:
    """The processor, plus every trace export it received (to check sums against the spans)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.requests: list[ExportTraceServiceRequest] = []
        ingest = service.receiver.traces.ingest

        def recording(body: bytes):  # type: ignore[no-untyped-def]
            # Ingested first: a test that sees the request listed may read the store at once.
            result = ingest(body)
            self.requests.append(ExportTraceServiceRequest.FromString(body))
            return result

        service.receiver.traces.ingest = recording  # type: ignore[method-assign]

    def llm_spans(self):  # type: ignore[no-untyped-def]
        return [s for r in self.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
                if s.name == "llm_request"]


@pytest.fixture(scope="module")
def traced_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Traced, VllmServer]]:
    from conftest import real_component_unavailable

    settings = Settings(host="127.0.0.1", http_port=0, grpc_port=None, goodput=(SLO,),
                        spans=SpanContextConfig(default_model="tiny"))
    with Service(settings) as service, contextlib.ExitStack() as stack:
        traced = Traced(service)
        error: VllmUnavailableError | None = None
        try:
            server = stack.enter_context(start_vllm(
                otlp_traces_endpoint=f"http://127.0.0.1:{service.http_port}/v1/traces",
                log_path=tmp_path_factory.mktemp("vllm-traced") / "vllm.log",
            ))
        except VllmUnavailableError as exc:
            error = exc
        if error is not None:
            real_component_unavailable(f"real vLLM unavailable: {error}")
        yield traced, server


def _metric(service: Service, prom_name: str):  # type: ignore[no-untyped-def]
    return next((m for m in service.store.snapshot() if m.prom_name == prom_name), None)


def test_ttft_histogram_counts_every_request_and_sums_match_the_spans(traced_vllm) -> None:  # type: ignore[no-untyped-def]
    traced, server = traced_vllm
    usages = [stream_completion(server, f"request {i} of the traced run", 8 + i) for i in range(REQUESTS)]
    deadline = time.monotonic() + SPAN_WAIT_S
    while len(traced.llm_spans()) < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.5)
    spans = traced.llm_spans()
    assert len(spans) == REQUESTS, f"vLLM sent {len(spans)} llm_request spans for {REQUESTS} requests"

    ttft = _metric(traced.service, "gen_ai_server_time_to_first_token_seconds")
    assert ttft is not None and len(ttft.points) == 1
    point = ttft.points[0]
    assert dict(point.labels)["model_name"] == "tiny"
    assert point.count == REQUESTS
    assert point.sum == sum(attribute(s, "gen_ai.latency.time_to_first_token") for s in spans)
    e2e = _metric(traced.service, "gen_ai_server_request_duration_seconds").points[0]
    assert e2e.sum == sum(attribute(s, "gen_ai.latency.e2e") for s in spans)

    tokens = {m.prom_name: m.points[0].value for m in traced.service.store.snapshot()
              if m.prom_name in ("llmslo_engine_output_tokens_total", "llmslo_engine_input_tokens_total")}
    assert tokens["llmslo_engine_output_tokens_total"] == sum(u.completion_tokens for u in usages)
    assert tokens["llmslo_engine_input_tokens_total"] == sum(u.prompt_tokens for u in usages)

    goodput = _metric(traced.service, "llmslo_engine_goodput_requests_total")
    outcomes = {dict(p.labels)["goodput"]: p.value for p in goodput.points}
    met = sum(1 for s in spans if SLO.met({
        "ttft": attribute(s, "gen_ai.latency.time_to_first_token"),
        "tpot": attribute(s, "gen_ai.latency.time_in_model_decode")
        / (attribute(s, "gen_ai.usage.completion_tokens") - 1),
    }))
    assert outcomes == {"met": met, "missed": REQUESTS - met}
