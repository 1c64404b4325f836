"""The ConfigMaps are valid Kubernetes objects the Grafana sidecar picks up, carrying exactly the
dashboard JSON; the provisioning file points Grafana's file provider at the dashboards."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from dashboards.generate import render
from dashboards.grafana.encode import GENERATED_BY

from .support_boards import all_boards

FILES = render(all_boards(), namespace="monitoring")
CONFIGMAPS = sorted(rel for rel in FILES if rel.endswith(".configmap.yaml"))


def test_one_configmap_per_dashboard() -> None:
    assert len(CONFIGMAPS) == len(all_boards())


@pytest.mark.parametrize("rel", CONFIGMAPS)
def test_configmap_is_valid_and_carries_the_dashboard(rel: str) -> None:
    text = FILES[rel]
    assert text.startswith("# " + GENERATED_BY.format(command="dashboards generate"))
    doc = yaml.safe_load(text)
    kubernetes_validate.validate(doc, "1.30.0", strict=True)
    assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert doc["metadata"]["namespace"] == "monitoring"
    ((key, payload),) = doc["data"].items()
    board = json.loads(payload)
    assert key == f"{board['uid']}.json"
    assert board == json.loads(FILES[key])


def test_provisioning_file_points_at_the_dashboards() -> None:
    doc = yaml.safe_load(FILES["provisioning/llmslo-dashboards.yaml"])
    (provider,) = doc["providers"]
    assert doc["apiVersion"] == 1
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
