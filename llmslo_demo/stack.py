"""Start every component of the demo as its own process, wired the way a pod and a cluster wire them.

    load ──> proxy ──> vLLM ──spans──> collector
    Prometheus scrapes: proxy metrics, vLLM sidecar, DCGM sidecar (over the dcgm capture), collector
    Prometheus evaluates the generated rules ──> Alertmanager ──> webhook (recorded by the demo)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmslo_demo import config as c
from llmslo_demo.procs import Proc, free_port, launch, wait_ready
from llmslo_demo.webhook import WebhookSink

LLMSLO = [sys.executable, "-m", "slo.cli"]


@dataclass
class Endpoints:
    vllm: str = ""
    proxy: str = ""
    proxy_metrics: str = ""
    vllm_sidecar: str = ""
    dcgm_capture: str = ""
    dcgm_sidecar: str = ""
    collector: str = ""
    prometheus: str = ""
    alertmanager: str = ""
    webhook: str = ""


@dataclass
class Stack:
    cfg: c.DemoConfig
    endpoints: Endpoints = field(default_factory=Endpoints)
    procs: list[Proc] = field(default_factory=list)
    started_s: dict[str, float] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.cfg.out_dir / "logs"

    def _start(self, name: str, cmd: list[str], ready_url: str, timeout: float = 60.0,
               env: dict[str, str] | None = None) -> None:
        proc = launch(name, cmd, self.log_dir, env=env, cwd=c.REPO)
        self.procs.append(proc)
        self.started_s[name] = wait_ready(proc, ready_url, timeout)

    def alive(self) -> list[str]:
        """Names of components that died."""
        return [p.name for p in self.procs if not p.alive()]


def generate_artifacts(cfg: c.DemoConfig) -> list[Path]:
    """Rules (examples + the demo SLO), dashboards and collector config, into the output folder."""
    out = cfg.out_dir
    specs = [str(c.DEMO_SPEC), *sorted(str(p) for p in c.EXAMPLES.glob("*.yaml"))]
    steps = [
        [*LLMSLO, "rules", "generate", *specs, "-o", str(out / "rules")],
        [*LLMSLO, "dashboards", "generate", "--slo", *specs, "-o", str(out / "dashboards")],
        [*LLMSLO, "collector", "config", "-o", str(out / "collector")],
    ]
    import subprocess

    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=c.REPO, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:5])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return sorted((out / "rules").glob("*.rules.yaml"))


def _prometheus_config(cfg: c.DemoConfig, ep: Endpoints, rule_files: list[Path]) -> dict[str, Any]:
    interval = f"{cfg.scrape_interval_s}s"

    def job(name: str, url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        host = url.split("://", 1)[1].split("/", 1)[0]
        return {"job_name": name, "scrape_interval": interval, "scrape_timeout": interval,
                "static_configs": [{"targets": [host]}], **(extra or {})}

    # The capture's GPU belongs to another cluster's pod; say it serves the demo pod, so the GPU
    # dashboard can join it to the model. Values are untouched.
    gpu_relabel = {"metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": "llmslo_gpu_.*", "target_label": "namespace",
         "replacement": c.NAMESPACE},
        {"source_labels": ["__name__"], "regex": "llmslo_gpu_.*", "target_label": "pod", "replacement": c.POD},
    ]}
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [ep.alertmanager.split("://", 1)[1]]}]}]},
        "scrape_configs": [
            job("llmslo-proxy", ep.proxy_metrics),
            job("llmslo-vllm", ep.vllm_sidecar),
            job("llmslo-dcgm", ep.dcgm_sidecar, gpu_relabel),
            job("llmslo-collector", ep.collector),
        ],
    }


def _alertmanager_config(webhook: str) -> dict[str, Any]:
    return {
        "route": {"receiver": "demo", "group_by": ["alertname", "slo", "severity"],
                  "group_wait": "1s", "group_interval": "5s", "repeat_interval": "1h"},
        "receivers": [{"name": "demo", "webhook_configs": [{"url": webhook, "send_resolved": True}]}],
    }


@contextlib.contextmanager
def running_stack(cfg: c.DemoConfig, sink: WebhookSink, say: Any = print) -> Iterator[Stack]:
    """Start everything; stop everything (reverse order) when the block ends, however it ends."""
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(cfg)
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    ep = stack.endpoints
    try:
        say("generating rules, dashboards and collector config from the SLO specs")
        rule_files = generate_artifacts(cfg)

        port = free_port()
        ep.collector = f"http://127.0.0.1:{port}/metrics"
        stack._start("collector", [*LLMSLO, "collector", "serve", "--host", "127.0.0.1", "--http-port", str(port),
                                   "--grpc-port", "-1", "--default-model", c.SERVED_MODEL,
                                   "--slo-spec", str(c.EXAMPLES / "goodput.yaml")],
                     ep.collector)

        port = free_port()
        ep.vllm = f"http://127.0.0.1:{port}"
        say(f"starting a real vLLM 0.32 (CPU, tiny dummy-weight model, max {cfg.max_num_seqs} running; "
            "about 1-2 minutes)")
        # vLLM runs niced: on a small machine its engine would otherwise starve the proxy and the load
        # generator, and their clocks (the client-side TTFT the report checks) would carry the wait.
        stack._start("vllm", [
            "nice", "-n", "10", str(cfg.vllm_python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(cfg.vllm_model), "--load-format", "dummy", "--served-model-name", c.SERVED_MODEL,
            "--host", "127.0.0.1",
            "--port", str(port), "--max-model-len", "1024", "--dtype", "bfloat16",
            "--max-num-seqs", str(cfg.max_num_seqs),
            "--otlp-traces-endpoint", ep.collector.replace("/metrics", "/v1/traces"),
        ], f"{ep.vllm}/health", timeout=cfg.vllm_startup_timeout_s,
            env={"VLLM_CPU_KVCACHE_SPACE": "1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
                 # Spans leave every second rather than every 5 s: the live view and the report see them sooner.
                 "OTEL_BSP_SCHEDULE_DELAY": "1000"})

        pod = ["--pod", c.POD, "--namespace", c.NAMESPACE]
        port, mport = free_port(), free_port()
        ep.proxy, ep.proxy_metrics = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mport}/metrics"
        stack._start("proxy", [*LLMSLO, "exporter", "proxy", "--upstream", ep.vllm, "--host", "127.0.0.1",
                               "--port", str(port), "--metrics-host", "127.0.0.1", "--metrics-port", str(mport),
                               "--tenant-header", c.TENANT_HEADER, "--tenant-allowlist",
                               ",".join(t.name for t in cfg.tenants), *pod], ep.proxy_metrics)

        port = free_port()
        ep.vllm_sidecar = f"http://127.0.0.1:{port}/metrics"
        stack._start("vllm-sidecar", [*LLMSLO, "exporter", "vllm", "--target", f"{ep.vllm}/metrics",
                                      "--host", "127.0.0.1", "--port", str(port), *pod], ep.vllm_sidecar)

        port = free_port()
        ep.dcgm_capture = f"http://127.0.0.1:{port}/metrics"
        stack._start("dcgm-capture", [sys.executable, "-m", "llmslo_demo.static_metrics", str(c.DCGM_CAPTURE),
                                      str(port)], ep.dcgm_capture)
        port = free_port()
        ep.dcgm_sidecar = f"http://127.0.0.1:{port}/metrics"
        stack._start("dcgm-sidecar", [*LLMSLO, "exporter", "dcgm", "--source", "dcgm", "--target", ep.dcgm_capture,
                                      "--host", "127.0.0.1", "--port", str(port)], ep.dcgm_sidecar)

        ep.webhook = sink.url
        port = free_port()
        ep.alertmanager = f"http://127.0.0.1:{port}"
        am_dir = cfg.out_dir / "alertmanager"
        am_dir.mkdir(exist_ok=True)
        (am_dir / "alertmanager.yml").write_text(yaml.safe_dump(_alertmanager_config(sink.url), sort_keys=True))
        stack._start("alertmanager", ["/usr/bin/prometheus-alertmanager",
                                      f"--config.file={am_dir / 'alertmanager.yml'}",
                                      f"--storage.path={am_dir / 'data'}",
                                      f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                     f"{ep.alertmanager}/-/ready")

        port = free_port()
        ep.prometheus = f"http://127.0.0.1:{port}"
        prom_dir = cfg.out_dir / "prometheus"
        prom_dir.mkdir(exist_ok=True)
        (prom_dir / "prometheus.yml").write_text(
            yaml.safe_dump(_prometheus_config(cfg, ep, rule_files), sort_keys=True))
        stack._start("prometheus", ["prometheus", f"--config.file={prom_dir / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={prom_dir / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                     f"{ep.prometheus}/-/ready")
        say("all components up: " + ", ".join(f"{k} {v:.1f}s" for k, v in stack.started_s.items()))
        yield stack
    finally:
        for proc in reversed(stack.procs):
            proc.stop()
