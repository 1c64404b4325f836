"""The GPU sidecar over real HTTP on both sides, fed the real dcgm-exporter capture.

A local HTTP server plays dcgm-exporter by serving the captured bytes (fixtures/SOURCES.md); the
sidecar is built through the real CLI parser and `build_collect`, served by the real
`make_server`, and read back with prometheus_client's parser, an implementation independent of
ours. Expected values are the capture's values times the documented unit factors, written out
here rather than taken from the catalog, so a wrong scale in the catalog fails this test.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.captures import DCGM as DCGM_FIXTURE

from exporters.cli import register
from exporters.dcgm import build_collect
from exporters.server import make_server, serve_in_thread
from exporters.sidecar import Sidecar

Labels = tuple[tuple[str, str], ...]
Series = dict[tuple[str, Labels], float]

MIB = 1048576.0
# canonical series -> (dcgm-exporter field in the capture, factor to the canonical unit)
SCALED = {
    "llmslo_gpu_utilization_ratio": ("DCGM_FI_DEV_GPU_UTIL", 0.01),  # % -> fraction
    "llmslo_gpu_memory_used_bytes": ("DCGM_FI_DEV_FB_USED", MIB),  # MiB -> bytes
    "llmslo_gpu_memory_free_bytes": ("DCGM_FI_DEV_FB_FREE", MIB),
    "llmslo_gpu_memory_reserved_bytes": ("DCGM_FI_DEV_FB_RESERVED", MIB),
    "llmslo_gpu_power_watts": ("DCGM_FI_DEV_POWER_USAGE", 1.0),  # already W
    "llmslo_gpu_energy_joules_total": ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 0.001),  # mJ -> J
    "llmslo_gpu_graphics_engine_active_ratio": ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", 1.0),
    "llmslo_gpu_tensor_active_ratio": ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", 1.0),
    "llmslo_gpu_dram_active_ratio": ("DCGM_FI_PROF_DRAM_ACTIVE", 1.0),
}
# The labels dcgm-exporter put on every GPU series of the capture, as the sidecar must keep them
# (`Hostname` normalised to `hostname`; the empty `pod_uid` is no label at all).
GPU_LABELS = {
    "gpu": "0",
    "UUID": "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c",
    "modelName": "NVIDIA RTX 4000 Ada Generation",
    "hostname": "lke529760-766837-0a634ab30000",
    "pod": "cuda-75454ffb9f-8ljq7",
    "namespace": "default",
    "container": "cuda",
}
# Where the truncated copy is cut: inside DCGM_FI_PROF_DRAM_ACTIVE's value `0.003074`, so the
# cut line would parse as a plausible but wrong 0.003.
CUT_AFTER = '} 0.003'


def parse(text: str) -> Series:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def only(series: Series, name: str) -> tuple[dict[str, str], float]:
    (match,) = [(dict(labels), v) for (n, labels), v in series.items() if n == name]
    return match


def captured(fixture: Series, field: str) -> float:
    """A value of the capture. prometheus_client reads dcgm-exporter's counters (no `_total` on
    the wire) as `<name>_total` samples, so both spellings are looked up."""
    (value,) = [v for (n, _), v in fixture.items() if n in (field, field + "_total")]
    return value


def error_count(series: Series, kind: str) -> float:
    (value,) = [
        v for (n, labels), v in series.items()
        if n == "llmslo_exporter_scrape_errors_total" and dict(labels).get("kind") == kind
    ]
    return value


class FakeDcgmExporter:
    """Serves fixed bytes at /metrics, with a Content-Length that matches them exactly."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)


@dataclass
class Stack:
    upstream: FakeDcgmExporter
    sidecar_url: str
    fixture: Series  # the capture itself, parsed by prometheus_client


def cli_args(target: str) -> argparse.Namespace:
    """Through the real `llmslo exporter dcgm` parser, so defaults and flag names are the real ones.
    The sidecar's own pod/namespace are set on purpose: they must NOT replace dcgm-exporter's."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(
        ["exporter", "dcgm", "--source", "dcgm", "--target", target, "--timeout", "2",
         "--pod", "gpu-sidecar-0", "--namespace", "monitoring"]
    )


def start_stack(body: bytes) -> Iterator[Stack]:
    upstream = FakeDcgmExporter(body)
    args = cli_args(upstream.url)
    collect, close = build_collect(args)
    sidecar = Sidecar("dcgm", collect, target=upstream.url, min_interval=0.0)
    server = make_server("127.0.0.1", 0, sidecar.render)
    serve_in_thread(server)
    try:
        yield Stack(
            upstream,
            f"http://127.0.0.1:{server.server_address[1]}/metrics",
            parse(DCGM_FIXTURE.read_text(encoding="utf-8")),
        )
    finally:
        server.shutdown()
        server.server_close()
        upstream.stop()
        close()


@pytest.fixture
def stack() -> Iterator[Stack]:
    yield from start_stack(DCGM_FIXTURE.read_bytes())


@pytest.fixture
def truncated_stack() -> Iterator[Stack]:
    whole = DCGM_FIXTURE.read_bytes()
    cut = whole.index(b"\nDCGM_FI_PROF_DRAM_ACTIVE{")
    cut = whole.index(CUT_AFTER.encode(), cut) + len(CUT_AFTER)
    assert not whole[:cut].endswith(b"\n")
    yield from start_stack(whole[:cut])


def scrape(url: str) -> Series:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return parse(response.text)


def test_capture_is_mapped_exactly(stack: Stack) -> None:
    series = scrape(stack.sidecar_url)
    for name, (field, factor) in SCALED.items():
        labels, value = only(series, name)
        assert value == captured(stack.fixture, field) * factor, name
        assert GPU_LABELS.items() <= labels.items(), name
        assert "Hostname" not in labels and "pod_uid" not in labels, name
    # The same facts as literals, read off the capture by eye.
    assert only(series, "llmslo_gpu_memory_used_bytes")[1] == 1048576.0  # 1 MiB
    assert only(series, "llmslo_gpu_memory_free_bytes")[1] == 20015 * 1048576.0
    assert only(series, "llmslo_gpu_power_watts")[1] == 40.979
    assert only(series, "llmslo_gpu_energy_joules_total")[1] == 455497.156
    assert only(series, "llmslo_gpu_graphics_engine_active_ratio")[1] == 0.004656
    assert only(series, "llmslo_gpu_dram_active_ratio")[1] == 0.003074
    assert only(series, "llmslo_gpu_utilization_ratio")[1] == 0.0
    # The other labels dcgm-exporter sets are kept as they were, but for the node facts that
    # would give every series a new identity on a driver upgrade or a PCI reshuffle.
    labels, _ = only(series, "llmslo_gpu_power_watts")
    assert "pci_bus_id" not in labels and "DCGM_FI_DRIVER_VERSION" not in labels
    assert labels["device"] == "nvidia0"
    # DCP fields that are off by default are absent, and said to be.
    assert not any(n.startswith(("llmslo_gpu_sm_active", "llmslo_gpu_sm_occupancy")) for n, _ in series)
    mapping = {dict(lbl)["sli"]: dict(lbl) for (n, lbl) in series if n == "llmslo_sli_mapping_info"}
    assert mapping["gpu_sm_active"]["fidelity"] == "unavailable"
    assert mapping["gpu_power"] == {
        "fidelity": "exact", "sli": "gpu_power", "source": "dcgm", "source_metric": "DCGM_FI_DEV_POWER_USAGE"
    }
    assert only(series, "llmslo_source_schema_info")[0]["generation"] == "Hostname"
    up_labels, up = only(series, "llmslo_exporter_target_up")
    assert up == 1.0
    assert up_labels == {"source": "dcgm", "target": stack.upstream.url}
    assert error_count(series, "connect") == 0.0


def test_only_gpu_slis_are_served(stack: Stack) -> None:
    names = {n for n, _ in scrape(stack.sidecar_url)}
    assert not any(n.startswith(("DCGM_", "dcgm_")) for n in names)
    gpu = {n for n in names if n.startswith("llmslo_gpu_")}
    assert gpu == set(SCALED)


def test_sidecar_keeps_answering_when_dcgm_exporter_goes_away(stack: Stack) -> None:
    assert only(scrape(stack.sidecar_url), "llmslo_exporter_target_up")[1] == 1.0
    stack.upstream.stop()
    series = scrape(stack.sidecar_url)
    assert only(series, "llmslo_exporter_target_up")[1] == 0.0
    assert not any(n.startswith("llmslo_gpu_") for n, _ in series)
    assert error_count(series, "connect") >= 1
    # Still the whole self-metrics set, so alerts on them keep working.
    assert only(series, "llmslo_exporter_scrapes_total")[1] == 2.0


def test_truncated_body_keeps_every_complete_series(truncated_stack: Stack) -> None:
    series = scrape(truncated_stack.sidecar_url)
    assert error_count(series, "truncated") >= 1
    assert only(series, "llmslo_exporter_target_up")[1] == 1.0
    # The cut line would have read 0.003: it is dropped, never served as a wrong value.
    assert not any(n == "llmslo_gpu_dram_active_ratio" for n, _ in series)
    for name, (field, factor) in SCALED.items():
        if name == "llmslo_gpu_dram_active_ratio":
            continue
        labels, value = only(series, name)
        assert value == captured(truncated_stack.fixture, field) * factor, name
        assert GPU_LABELS.items() <= labels.items(), name
