"""Generated rules in a real Prometheus that scrapes the llmslo sidecar in front of a real vLLM:
every rule evaluates without error and every recording-rule series appears once traffic flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.prometheus import scrape_config, start_prometheus
from support.real_vllm import VllmServer, stream_completion

from slo.rules.output import plan, write
from slo.spec import parse_spec_text

pytestmark = pytest.mark.e2e

SPEC = """apiVersion: llmslo/v1
slos:
  - name: e2e-ttft
    sli: {kind: latency, metric: ttft, threshold: 0.5}
    objective: 99.9
    window: 30d
    by: [model]
    min_traffic: 10/h
  - name: e2e-itl
    sli: {kind: token_latency, metric: itl, threshold: 0.1}
    objective: 99
    by: [model, pod]
  - name: e2e-availability
    sli: {kind: availability, source: engine}
    objective: 99.5
    window: 28d
    by: [model]
  - name: e2e-cache-hit
    sli: {kind: cache_hit, floor: 0.2}
    objective: 95
  - name: e2e-throughput
    sli: {kind: throughput, floor: 1}
    objective: 90
    window: 7d
"""


def test_rules_evaluate_on_a_real_vllm(real_vllm: VllmServer, vllm_sidecar: str, tmp_path: Path) -> None:
    slos, problems = parse_spec_text(SPEC, "e2e.yaml")
    assert problems == []
    out = tmp_path / "rules"
    write(plan(slos, with_tests=False), out)
    rule_file = out / "e2e.rules.yaml"
    records = sorted({(g["name"], r["record"]) for g in _groups(rule_file) for r in g["rules"] if "record" in r})
    assert len(records) == 5 * 12
    with start_prometheus(tmp_path / "prom", scrape_configs=[scrape_config("vllm", [vllm_sidecar])],
                          rule_files=[rule_file], evaluation_interval="1s") as prom:
        prom.wait_for('gen_ai_server_time_to_first_token_seconds_count{job="vllm"}')
        for i in range(3):
            result = stream_completion(real_vllm, f"The SLO check number {i} says", max_tokens=8)
            assert result.usage["completion_tokens"] == 8
        for group, record in records:
            slo = group.removeprefix("llmslo-slo-")
            prom.wait_for(f'{{__name__="{record}",slo="{slo}"}}', timeout=30)
        # The record appears with the first evaluation; its rate is non-zero once a scrape has seen
        # the requests (bounded wait: a rate that stays 0 still fails).
        prom.wait_for('llmslo_slo:events:rate5m{slo="e2e-ttft"} > 0')
        ttft = prom.values('llmslo_slo:events:rate5m{slo="e2e-ttft"}')
        assert len(ttft) == 1 and next(iter(ttft)) == (
            ("__name__", "llmslo_slo:events:rate5m"), ("model_name", real_vllm.model), ("slo", "e2e-ttft"))
        assert next(iter(ttft.values())) > 0
        groups = {g["name"]: g for g in prom.rule_groups()}
        assert sorted(groups) == sorted({g for g, _ in records})
        for group in groups.values():
            for rule in group["rules"]:
                assert rule["health"] == "ok", (group["name"], rule["name"], rule.get("lastError"))
                assert not rule.get("lastError"), (group["name"], rule["name"], rule["lastError"])


def _groups(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    groups = data["groups"]
    assert isinstance(groups, list)
    return groups
