"""Ways to ship dashboards into Grafana: a ConfigMap for the Grafana sidecar (kube-prometheus-stack,
the Grafana Helm chart) and a file provider for Grafana's own provisioning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

# The label the Grafana Helm chart's dashboard sidecar watches by default, and the annotation it reads
# a target folder from when `sidecar.dashboards.folderAnnotation` is set to it.
SIDECAR_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"


def _yaml(header: str, doc: dict[str, Any]) -> str:
    body = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1_000_000, allow_unicode=True)
    return f"# {header}\n{body}"


def configmap(board: dict[str, Any], *, name: str, header: str, folder: str, namespace: str | None = None,
              labels: Sequence[tuple[str, str]] = ()) -> str:
    """One ConfigMap holding one dashboard as compact JSON (smaller than the 256 KiB apply annotation)."""
    metadata: dict[str, Any] = {
        "name": name,
        "labels": dict([SIDECAR_LABEL, *labels]),
        "annotations": {FOLDER_ANNOTATION: folder},
    }
    if namespace:
        metadata["namespace"] = namespace
    data = {f"{board['uid']}.json": json.dumps(board, sort_keys=True, separators=(",", ":"), ensure_ascii=False)}
    return _yaml(header, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


def file_provider(*, name: str, folder: str, path: str, header: str) -> str:
    """A Grafana dashboard provider (provisioning/dashboards/*.yaml) that loads the JSON files in `path`."""
    provider = {
        "name": name, "orgId": 1, "folder": folder, "type": "file", "disableDeletion": False,
        "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": path, "foldersFromFilesStructure": False},
    }
    return _yaml(header, {"apiVersion": 1, "providers": [provider]})
