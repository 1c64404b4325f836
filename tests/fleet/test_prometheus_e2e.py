"""A real Prometheus scrapes a simulated fleet from one port (one path per pod, picked by the
`__metrics_path__` target label) through the in-process sidecar, and evaluates the bench's rules."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.prometheus import start_prometheus

from bench.fleet import Fleet, FleetSpec
from bench.fleet.rules import OBJECTIVES, rules_yaml
from bench.fleet.server import FleetServer

pytestmark = pytest.mark.e2e


def test_prometheus_scrapes_every_pod_and_the_slo_rules_evaluate(tmp_path: Path) -> None:
    pods = 4
    rules = tmp_path / "rules.yml"
    rules.write_text(rules_yaml())
    with FleetServer(Fleet(FleetSpec(pods=pods, seed=8, rate_per_pod=20.0, start=time.time()))) as server:
        targets = server.prometheus_targets(path="sidecar")
        job = {"job_name": "fleet", "scrape_interval": "1s", "scrape_timeout": "1s", "static_configs": targets}
        with start_prometheus(tmp_path / "prom", scrape_configs=[job], rule_files=[rules]) as prom:
            prom.wait_for('up{job="fleet"} == 1', min_series=pods)
            ttft = prom.wait_for("gen_ai_server_time_to_first_token_seconds_count", min_series=pods)
            assert {s["metric"]["pod"] for s in ttft} == {p.name for p in server.fleet.pods}
            models = {p.model.name for p in server.fleet.pods}
            for slo in OBJECTIVES:
                # `>= 0` leaves out the NaN of a window in which a pod's counters have not moved yet.
                got = prom.wait_for(f"llmslo:{slo.name}:error_ratio_rate5m >= 0", min_series=len(models))
                assert {s["metric"]["model_name"] for s in got} == models
                assert all(0.0 <= float(s["value"][1]) <= 1.0 for s in got)
            groups = {g["name"]: g for g in prom.rule_groups()}
            assert sorted(groups) == sorted(f"llmslo-bench-{slo.name}" for slo in OBJECTIVES)
            assert all(r["health"] == "ok" for g in groups.values() for r in g["rules"])
