"""The fleet's HTTP edge: many pods from one process, simulated time from an injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.fleet import Fleet, FleetSpec
from bench.fleet.__main__ import main
from bench.fleet.server import FleetServer
from slo.metrics.parse import parse_exposition


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def served() -> Iterator[tuple[FleetServer, Clock]]:
    spec = FleetSpec(pods=3, seed=4, rate_per_pod=3.0)
    clock = Clock(spec.start)
    with FleetServer(Fleet(spec, keep_finished=True), clock=clock) as server:
        yield server, clock


def _count(body: str, family: str) -> float:
    fam = parse_exposition(body).families[family]
    return next(s.value for s in fam.samples if s.name.endswith("_count"))


def test_pods_are_served_on_their_own_paths_and_advance_with_the_clock(served: tuple[FleetServer, Clock]) -> None:
    server, clock = served
    base = f"http://{server.address}"
    first = httpx.get(f"{base}/pod/1/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    before = _count(first.text, "vllm:e2e_request_latency_seconds")
    clock.t += 60
    after = _count(httpx.get(f"{base}/pod/1/metrics").text, "vllm:e2e_request_latency_seconds")
    assert after > before
    # Pods are independent: pod 2 serves its own model's series.
    assert server.fleet.pods[2].model.name in httpx.get(f"{base}/pod/2/metrics").text


def test_sidecar_path_serves_canonical_slis(served: tuple[FleetServer, Clock]) -> None:
    server, clock = served
    clock.t += 30
    body = httpx.get(f"http://{server.address}/pod/0/sidecar").text
    fams = parse_exposition(body, require_final_newline=True)
    assert fams.ok
    assert "gen_ai_server_time_to_first_token_seconds" in fams.families
    up = fams.families["llmslo_exporter_target_up"].samples[0].value
    assert up == 1.0


def test_targets_and_spans(served: tuple[FleetServer, Clock]) -> None:
    server, clock = served
    base = f"http://{server.address}"
    targets = httpx.get(f"{base}/targets").json()
    assert [t["labels"]["__metrics_path__"] for t in targets] == [f"/pod/{i}/metrics" for i in range(3)]
    assert {t["targets"][0] for t in targets} == {server.address}
    clock.t += 45
    for i in range(3):
        httpx.get(f"{base}/pod/{i}/metrics")
    reply = httpx.get(f"{base}/spans")
    assert reply.headers["content-type"] == "application/x-protobuf"
    request = ExportTraceServiceRequest()
    request.ParseFromString(reply.content)
    assert sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans) > 0
    again = ExportTraceServiceRequest()
    again.ParseFromString(httpx.get(f"{base}/spans").content)  # drained: nothing twice
    assert not again.resource_spans


@pytest.mark.parametrize(("path", "message"), [("/pod/3/metrics", "no pod 3"), ("/pods", "unknown path")])
def test_bad_paths_get_a_clear_404(served: tuple[FleetServer, Clock], path: str, message: str) -> None:
    server, _ = served
    reply = httpx.get(f"http://{server.address}{path}")
    assert reply.status_code == 404
    assert message in reply.text


def test_dump_cli_writes_metrics_and_spans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dump"
    assert main(["dump", "--pods", "2", "--pod", "1", "--at", "30", "--out", str(out)]) == 0
    assert parse_exposition((out / "pod-1.prom").read_text(), require_final_newline=True).ok
    request = ExportTraceServiceRequest()
    request.ParseFromString((out / "spans.bin").read_bytes())
    assert request.resource_spans
    assert main(["dump", "--pods", "2", "--pod", "5", "--out", str(out)]) == 2
    assert "outside 0..1" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--pods", "100,x"], ["--pods", "0"], ["--servers", "0"]])
def test_bench_cli_refuses_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *argv, "--no-prometheus"]) == 2
    assert "error:" in capsys.readouterr().err
