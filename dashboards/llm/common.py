"""What every llmslo dashboard shares: its variables, tags, links and the standard no-traffic text."""

from __future__ import annotations

from typing import Any

from dashboards.grafana import variables as var
from dashboards.llm.promql import metric

TAGS = ("llmslo", "llm")
NO_TRAFFIC = "no traffic"
NO_GPU_DATA = "no GPU series for these pods"
PERCENTILES = (0.5, 0.9, 0.99)

# Units (Grafana unit ids).
SECONDS = "s"
RATIO = "percentunit"
REQ_PER_S = "reqps"
TOKENS_PER_S = "suffix: tok/s"
TOKENS_PER_GPU_S = "suffix: tok/GPU-s"
JOULES = "joule"
WATTS = "watt"
BYTES = "bytes"
COUNT = "short"


def engine_variables() -> list[Any]:
    """datasource, namespace, model, pod: the engine's pods, as its sidecar labels them."""
    running = metric("requests_running")
    return [
        var.datasource(),
        var.label_values("namespace", "namespace", running, "Namespace"),
        var.label_values("model", "model_name", f'{running}{{namespace=~"$namespace"}}', "Model"),
        var.label_values("pod", "pod", f'{running}{{namespace=~"$namespace", model_name=~"$model"}}', "Pod"),
    ]


def proxy_variables() -> list[Any]:
    """datasource, namespace, model from the proxy's series (tenants exist only there)."""
    requests = metric("proxy_requests")
    return [
        var.datasource(),
        var.label_values("namespace", "namespace", requests, "Namespace"),
        var.label_values("model", "model_name", f'{requests}{{namespace=~"$namespace"}}', "Model"),
    ]


def links() -> list[dict[str, Any]]:
    """A drop-down to the other llmslo dashboards, keeping the time range and variables."""
    return [{"asDropdown": True, "icon": "external link", "includeVars": True, "keepTime": True,
             "tags": ["llmslo"], "targetBlank": False, "title": "llmslo dashboards", "type": "dashboards"}]


def describe(key_definition: str, how: str) -> str:
    """A panel description: what the SLI measures (from the catalog) and how the panel aggregates it."""
    return f"{how}\n\n{key_definition}"
