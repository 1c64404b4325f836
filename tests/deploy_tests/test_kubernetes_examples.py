"""deploy/kubernetes: the sidecar patch applied to a plain vLLM Deployment gives a valid Deployment that the
generated otelcol-contrib config discovers (label and port names agree with it)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
K8S_VERSION = "1.30.0"


def strategic_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The part of Kubernetes' strategic merge the patch uses: maps merge, containers merge by name."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if key == "containers":
            by_name = {c["name"]: c for c in out.get(key, [])}
            for container in value:
                if container["name"] in by_name:
                    by_name[container["name"]].update(copy.deepcopy(container))
                else:
                    out.setdefault(key, []).append(copy.deepcopy(container))
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = strategic_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.fixture(scope="module")
def patched() -> dict[str, Any]:
    base = yaml.safe_load((K8S / "example-vllm-deployment.yaml").read_text())
    patch = yaml.safe_load((K8S / "llmslo-sidecars-patch.yaml").read_text())
    return strategic_merge(base, patch)


def test_the_patched_deployment_is_valid(patched: dict[str, Any]) -> None:
    kubernetes_validate.validate(patched, K8S_VERSION, strict=True)
    names = [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]]
    assert names == ["vllm", "llmslo-vllm", "llmslo-proxy"]


def test_a_broken_patch_is_caught(patched: dict[str, Any]) -> None:
    broken = copy.deepcopy(patched)
    broken["spec"]["template"]["spec"]["containers"][1]["ports"][0]["containerPort"] = "9400"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_generated_collector_config_discovers_the_patched_pod(patched: dict[str, Any], tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "slo.cli", "collector", "config", "-o", str(tmp_path)], check=True,
                   capture_output=True)
    config = yaml.safe_load((tmp_path / "otelcol-config.yaml").read_text())
    jobs = {j["job_name"]: j for j in config["receivers"]["prometheus"]["config"]["scrape_configs"]}
    pod = patched["spec"]["template"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    for job in ("vllm", "llmslo-sidecars"):
        keeps = {tuple(r["source_labels"]): r["regex"] for r in jobs[job]["relabel_configs"]
                 if r.get("action") == "keep"}
        role = keeps[("__meta_kubernetes_pod_label_llmslo_io_role",)]
        assert pod["metadata"]["labels"]["llmslo.io/role"] == role
        assert keeps[("__meta_kubernetes_pod_container_port_name",)] in ports
