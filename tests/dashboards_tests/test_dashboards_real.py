"""Every query of every generated dashboard, run against a real Prometheus that scrapes llmslo's
sidecars in front of a REAL vLLM under load, and the dashboards rendered to PNG from those results.

GPU panels cannot have a real GPU here: a local HTTP server plays dcgm-exporter with the real
capture (fixtures/SOURCES.md), scraped through llmslo's real GPU sidecar. The capture's GPU was
assigned to another pod (`default/cuda-...`); this Prometheus relabels it onto the vLLM pod the
sidecar labels (`e2e/vllm-0`), which is what dcgm-exporter's pod mapping writes for a GPU that pod
holds, so the GPU-to-model join has something to join.

The load goes through llmslo's real proxy in front of the same vLLM, with a tenant header from
five tenants and the proxy bounding them to its two busiest plus `other`, so the client-side and
tenant panels have real series too. DCGM profiling fields the capture lacks (SM active, SM
occupancy) must be empty and said to be by the sidecar
(`llmslo_sli_mapping_info{fidelity="unavailable"}`); every other query must return data.

With --update-golden the PNGs are written to docs/dashboards/ instead of a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.captures import DCGM as DCGM_CAPTURE
from support.prometheus import PrometheusServer, scrape_config, start_prometheus
from support.real_vllm import VllmServer, stream_completion

from dashboards.render.expand import expand, variable_defaults
from dashboards.render.png import render_png
from dashboards.render.prom import Prometheus
from exporters.cli import register
from exporters.dcgm import build_collect
from exporters.proxy.config import ProxyConfig
from exporters.proxy.server import ProxyServer
from exporters.server import make_server, serve_in_thread
from exporters.sidecar import Sidecar
from slo.catalog import CATALOG, get
from slo.rules import conventions as cv
from slo.rules.output import plan, write
from slo.spec import load_specs

from .support_boards import SLO_SPEC, all_boards, queries

pytestmark = pytest.mark.e2e

DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "dashboards"
TENANT_HEADER = "x-tenant"
TENANTS = ("acme", "acme", "acme", "globex", "globex", "initech", "umbrella", "hooli")
CHECK_WINDOW = "1m"
PNG_WINDOW = "30s"
# The capture's GPU and the pod the shared vLLM sidecar labels (tests/conftest.py SIDECAR_POD_LABELS).
CAPTURE_POD = ("default", "cuda-75454ffb9f-8ljq7")
VLLM_POD = ("e2e", "vllm-0")
SHARED_PREFIX = "The quick brown fox jumps over the lazy dog while the llmslo dashboards watch. " * 4


class StaticExporter:
    """Serves one fixed body at /metrics: dcgm-exporter replaying the real capture."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def gpu_sidecar() -> Iterator[str]:
    """llmslo's GPU sidecar (built through the real CLI parser) over the replayed capture."""
    upstream = StaticExporter(DCGM_CAPTURE.read_bytes())
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["exporter", "dcgm", "--source", "dcgm", "--target", upstream.url, "--timeout", "2"])
    collect, close = build_collect(args)
    server = make_server("127.0.0.1", 0, Sidecar("dcgm", collect, target=upstream.url, min_interval=0.0).render)
    serve_in_thread(server)
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    upstream.stop()
    close()


@pytest.fixture(scope="module")
def proxy(real_vllm: VllmServer) -> Iterator[ProxyServer]:
    """llmslo's proxy in front of the real vLLM, in the vLLM pod (same namespace/pod labels)."""
    ns, pod = VLLM_POD
    server = ProxyServer(ProxyConfig(upstream=real_vllm.base_url, host="127.0.0.1", port=0,
                                     metrics_host="127.0.0.1", metrics_port=0, tenant_header=TENANT_HEADER,
                                     tenant_top_k=2, namespace=ns, pod=pod)).start()
    yield server
    server.stop()


def stream_via_proxy(proxy: ProxyServer, model: str, prompt: str, max_tokens: int, tenant: str) -> int:
    """One streamed completion through the proxy as `tenant`; returns the completion tokens of its usage."""
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "stream": True, "ignore_eos": True,
            "temperature": 0.0, "stream_options": {"include_usage": True}}
    usage = 0
    with httpx.Client(base_url=proxy.url, timeout=120) as client, \
            client.stream("POST", "/v1/completions", json=body, headers={TENANT_HEADER: tenant}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            data = line.removeprefix("data:").strip()
            if line.startswith("data:") and data != "[DONE]":
                usage = int((json.loads(data).get("usage") or {}).get("completion_tokens", usage))
    return usage


@dataclass
class Loaded:
    prom: PrometheusServer
    prom_started: float
    load_started: float
    requests: int
    at: float  # every query is evaluated here


def _onto_vllm_pod() -> list[dict[str, Any]]:
    (cap_ns, cap_pod), (ns, pod) = CAPTURE_POD, VLLM_POD
    return [{"source_labels": ["namespace", "pod"], "regex": f"{cap_ns};{cap_pod}", "target_label": "namespace",
             "replacement": ns},
            {"source_labels": ["namespace", "pod"], "regex": f"{ns};{cap_pod}", "target_label": "pod",
             "replacement": pod}]


@pytest.fixture(scope="module")
def loaded(real_vllm: VllmServer, vllm_sidecar: str, gpu_sidecar: str, proxy: ProxyServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """One Prometheus (with the rules `llmslo rules generate` writes for the SLO dashboard's specs) and
    one load phase for the whole module."""
    gpu_job = scrape_config("dcgm", [gpu_sidecar])
    gpu_job["metric_relabel_configs"] = _onto_vllm_pod()
    slos = load_specs([SLO_SPEC])
    written = write(plan(slos, with_tests=False), tmp_path_factory.mktemp("rules"))
    with start_prometheus(tmp_path_factory.mktemp("prometheus"),
                          scrape_configs=[scrape_config("vllm", [vllm_sidecar]), gpu_job,
                                          scrape_config("proxy", [f"127.0.0.1:{proxy.metrics_port}"])],
                          rule_files=[p for p in written if p.name.endswith(".rules.yaml")]) as prom:
        prom_started = time.time()
        prom.wait_for('llmslo_gpu_power_watts{namespace="e2e", pod="vllm-0"}')
        prom.wait_for(get("requests_running").prom_name)
        # The proxy creates a series on its first request: one warm-up request per proxied tenant, scraped
        # before the load, so rate() sees the load as an increase even if a scrape fails under load.
        proxied_tenants = sorted({t for t in TENANTS if t != "hooli"})
        for tenant in proxied_tenants:
            stream_via_proxy(proxy, real_vllm.model, SHARED_PREFIX, 2, tenant)
        prom.wait_for(f'sum({get("proxy_requests").prom_name}) >= {len(proxied_tenants)}')
        time.sleep(2.0)  # a couple of scrapes of the idle counters, so rate() sees the load as an increase
        started = time.time()
        # Most through the proxy as one of several tenants, a few straight to vLLM (engine-only traffic).
        prompts = [(SHARED_PREFIX + f"request {i}", 4 + 3 * (i % 5), TENANTS[i % len(TENANTS)]) for i in range(16)]

        def send(item: tuple[str, int, str]) -> int:
            prompt, n, tenant = item
            if tenant == "hooli":
                return stream_completion(real_vllm, prompt, n).completion_tokens
            return stream_via_proxy(proxy, real_vllm.model, prompt, n, tenant)

        with ThreadPoolExecutor(max_workers=3) as pool:
            tokens = list(pool.map(send, prompts))
        assert tokens == [n for _, n, _ in prompts]
        finished = _engine_total(vllm_sidecar)
        prom.wait_for(f'sum({get("requests").prom_name}) >= {finished}')
        proxied = len(proxied_tenants) + len([p for p in prompts if p[2] != "hooli"])
        prom.wait_for(f'sum({get("proxy_requests").prom_name}) >= {proxied}')
        for slo in slos:  # every SLO's rules evaluated over the load
            prom.wait_for(f'{cv.error_ratio(cv.BASE_WINDOW_S)}{{{cv.SLO_LABEL}="{slo.name}"}} >= 0')
        time.sleep(2.0)  # and a couple more, so every rate window ends after the load
        yield Loaded(prom, prom_started, started, len(prompts), _healthy_instant(prom))


def _healthy_instant(prom: PrometheusServer, timeout: float = 30.0) -> float:
    """A recent time at which every target's last scrapes succeeded. A scrape that times out on a
    loaded machine leaves staleness markers, and an instant query then finds no data for a second;
    queries evaluated here cannot meet that gap. Bounded: after `timeout` the latest time is used
    and a real outage still shows up as missing data."""
    deadline = time.monotonic() + timeout
    while True:
        at = time.time() - 2.0  # every scrape that started before this has finished (1 s timeout)
        ups = prom.query("min_over_time(up[3s])", at)
        if (ups and all(float(s["value"][1]) == 1.0 for s in ups)) or time.monotonic() > deadline:
            return at
        time.sleep(1.0)


def _engine_total(sidecar: str) -> float:
    name = get("requests").prom_name
    text = httpx.get(f"http://{sidecar}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def _unavailable_slis(prom: PrometheusServer, at: float) -> set[str]:
    return {s["metric"]["sli"] for s in prom.query('llmslo_sli_mapping_info{fidelity="unavailable"}', at)}


def _metrics_of(expr: str) -> set[str]:
    return {s.key for s in CATALOG if s.prom_name in expr}


BOARDS = {b["uid"]: b for b in all_boards()}


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_every_query_returns_data(loaded: Loaded, uid: str) -> None:
    board = BOARDS[uid]
    values = variable_defaults(board, CHECK_WINDOW)
    unavailable = _unavailable_slis(loaded.prom, loaded.at)
    assert {"gpu_sm_active", "gpu_sm_occupancy"} <= unavailable  # what the capture lacks, said by the sidecar
    failures: list[str] = []
    checked = 0
    for panel, target in queries(board):
        expr = expand(target["expr"], values)
        result = loaded.prom.query(expr, loaded.at)  # raises on any PromQL error
        where = f"{panel['title']} [{target['refId']}]"
        lacking = _metrics_of(expr) & unavailable
        if lacking:
            if result:
                failures.append(f"{where}: data for {sorted(lacking)}, which the sidecar says is unavailable")
            continue
        checked += 1
        if not result:
            failures.append(f"{where}: no data for {expr}")
        elif any(s["value"][1] in ("NaN", "+Inf", "-Inf") for s in result):
            failures.append(f"{where}: {[s['value'][1] for s in result]} for {expr}")
    if failures:  # what Prometheus holds for the metrics involved, to tell a query bug from missing data
        for key in sorted({k for f in failures for k in _metrics_of(f)}):
            name = get(key).prom_name + ("_count" if get(key).boundaries else "")
            failures.append(f"  {name}: {loaded.prom.query(name, loaded.at)}\n"
                            f"  rate: {loaded.prom.query(f'rate({name}[1m])', loaded.at)}")
    assert not failures, "\n".join(failures)
    assert checked > 0


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_dashboard_renders_from_real_results(loaded: Loaded, uid: str, update_golden: bool,
                                             tmp_path: Path) -> None:
    board = BOARDS[uid]
    out = (DOCS_PNG if update_golden else tmp_path) / f"{uid}.png"
    prom = Prometheus(loaded.prom.url)
    end = loaded.at
    try:
        drawn = render_png(board, prom, variable_defaults(board, PNG_WINDOW), out,
                           start=loaded.prom_started, end=end, step=1.0,
                           subtitle=f"{loaded.requests} streamed requests to a real vLLM 0.32 (CPU, tiny model); "
                                    "GPU panels from a real dcgm-exporter capture")
    finally:
        prom.close()
    assert out.read_bytes().startswith(b"\x89PNG")
    errors = [d.error for d in drawn if d.error]
    assert not errors, errors
    empty = [d.panel["title"] for d in drawn if d.panel.get("type") != "row" and not d.series]
    assert not empty, f"panels without data in the picture: {empty}"
