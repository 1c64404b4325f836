"""The otelcol-contrib configuration that feeds the llmslo collector processor.

Three pipelines:

* `traces`: vLLM's OTLP spans (`--otlp-traces-endpoint` pointing at this collector) ->
  memory_limiter, k8sattributes (pod, namespace from the sending pod's IP), batch -> the processor.
* `metrics`: the prometheus receiver scraping vLLM, dcgm-exporter and the llmslo sidecars through
  Kubernetes pod discovery (plus OTLP pushes from the sidecars) -> the processor, which maps them
  to canonical SLIs.
* `metrics/slis`: the processor pushes the derived SLIs back on a separate OTLP receiver
  (`otlp/slis`, so they cannot loop into the processor again) -> prometheusremotewrite and,
  optionally, an OTLP/HTTP backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

OTLP_GRPC_PORT: Final = 4317
OTLP_HTTP_PORT: Final = 4318
SLIS_HTTP_PORT: Final = 14318
PROCESSOR_NAME: Final = "llmslo-collector"
OTELCOL_NAME: Final = "llmslo-otelcol"


@dataclass(frozen=True, slots=True)
class ConfigOptions:
    namespace: str = "llmslo"
    remote_write_url: str = "http://prometheus.monitoring.svc:9090/api/v1/write"
    otlp_backend_url: str = ""  # e.g. https://otlp.example.com; empty: no otlphttp/backend exporter
    vllm_selector: str = "llmslo.io/role=vllm"  # pod label (key=value) of vLLM pods
    vllm_port_name: str = "http"  # container port name serving vLLM's /metrics
    sidecar_port_name: str = "llmslo-metrics"  # container port name of the llmslo sidecars
    dcgm_selector: str = "app=nvidia-dcgm-exporter"
    dcgm_port_name: str = "metrics"
    scrape_interval: str = "15s"

    @property
    def processor_host(self) -> str:
        return f"{PROCESSOR_NAME}.{self.namespace}.svc"


def _label_meta(selector: str) -> tuple[str, str]:
    key, _, value = selector.partition("=")
    sanitized = "".join(c if c.isalnum() else "_" for c in key)
    return f"__meta_kubernetes_pod_label_{sanitized}", value


def _scrape_job(name: str, selector: str, port_name: str, interval: str) -> dict[str, Any]:
    label, value = _label_meta(selector)
    return {
        "job_name": name,
        "scrape_interval": interval,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [label], "regex": value, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port_name, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    }


def build_config(options: ConfigOptions) -> dict[str, Any]:
    o = options
    exporters: dict[str, Any] = {
        "otlphttp/llmslo": {
            "endpoint": f"http://{o.processor_host}:{OTLP_HTTP_PORT}",
            "compression": "gzip",
            "encoding": "proto",
            "tls": {"insecure": True},
            "sending_queue": {"enabled": True, "num_consumers": 4, "queue_size": 1000},
            "retry_on_failure": {"enabled": True, "initial_interval": "1s", "max_interval": "30s",
                                 "max_elapsed_time": "300s"},
        },
        "prometheusremotewrite": {
            "endpoint": o.remote_write_url,
            "resource_to_telemetry_conversion": {"enabled": False},
            "target_info": {"enabled": False},
            "retry_on_failure": {"enabled": True},
        },
    }
    slis_exporters = ["prometheusremotewrite"]
    if o.otlp_backend_url:
        exporters["otlphttp/backend"] = {"endpoint": o.otlp_backend_url, "compression": "gzip"}
        slis_exporters.append("otlphttp/backend")
    processors = ["memory_limiter", "k8sattributes", "batch"]
    return {
        "receivers": {
            "otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                                   "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}},
            "otlp/slis": {"protocols": {"http": {"endpoint": f"0.0.0.0:{SLIS_HTTP_PORT}"}}},
            "prometheus": {"config": {"scrape_configs": [
                _scrape_job("vllm", o.vllm_selector, o.vllm_port_name, o.scrape_interval),
                _scrape_job("llmslo-sidecars", o.vllm_selector, o.sidecar_port_name, o.scrape_interval),
                _scrape_job("dcgm-exporter", o.dcgm_selector, o.dcgm_port_name, o.scrape_interval),
            ]}},
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "k8sattributes": {
                "auth_type": "serviceAccount",
                "passthrough": False,
                "extract": {"metadata": ["k8s.namespace.name", "k8s.pod.name", "k8s.deployment.name",
                                         "k8s.node.name"]},
                "pod_association": [
                    {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
                    {"sources": [{"from": "connection"}]},
                ],
            },
            "batch": {"timeout": "1s", "send_batch_size": 2048, "send_batch_max_size": 4096},
        },
        "exporters": exporters,
        "service": {"pipelines": {
            "traces": {"receivers": ["otlp"], "processors": processors, "exporters": ["otlphttp/llmslo"]},
            "metrics": {"receivers": ["otlp", "prometheus"], "processors": processors,
                        "exporters": ["otlphttp/llmslo"]},
            "metrics/slis": {"receivers": ["otlp/slis"], "processors": ["memory_limiter", "batch"],
                             "exporters": slis_exporters},
        }},
    }
