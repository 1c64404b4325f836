"""The same 99.9% TTFT SLO for Sloth and for llmslo, replayed on the same series by the real promtool:
llmslo pages no later than Sloth in every scenario, with fewer rules.

First-firing times are read from the ALERTS series promtool records, and compared in PromQL, so
the test asserts the relation without hard-coding either tool's timing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slo.rules.generate import alert_name, generate
from slo.rules.promtool_tests import Phase, input_series
from slo.rules.render import dump_yaml, render_rule_file
from slo.spec import SLO

from .sloth import SLOTH_ALERT, sloth_ttft_rules

pytestmark = pytest.mark.e2e

SLO_SPEC = SLO.model_validate({"name": "ttft", "sli": {"kind": "latency", "metric": "ttft", "threshold": 0.5},
                               "objective": 99.9, "window": "30d"})
PER_MIN = 1000.0
HISTORY = 7 * 60  # minutes of healthy traffic, so every page window is full before a scenario starts

SCENARIOS = [
    pytest.param([Phase(60, PER_MIN, PER_MIN)], id="total-outage"),
    pytest.param([Phase(3, PER_MIN, PER_MIN), Phase(60, PER_MIN, 0)], id="3-minute-outage"),
    pytest.param([Phase(70, PER_MIN, PER_MIN * 0.0144)], id="14.4x-burn"),
    pytest.param([Phase(6 * 60 + 10, PER_MIN, PER_MIN * 0.006)], id="6x-burn"),
    pytest.param([Phase(6 * 60 + 10, PER_MIN, PER_MIN * 0.008)], id="8x-burn"),
]


def _count(rules_yaml: str) -> tuple[int, int]:
    rules = [r for g in yaml.safe_load(rules_yaml)["groups"] for r in g["rules"]]
    return sum("record" in r for r in rules), sum("alert" in r for r in rules)


def _first_fire(alert: str, extra: str, minutes: int) -> str:
    return f'min_over_time(timestamp(ALERTS{{alertname="{alert}",alertstate="firing"{extra}}})[{minutes}m:1m])'


def test_llmslo_emits_fewer_rules_than_sloth() -> None:
    sloth = _count(sloth_ttft_rules())
    ours = _count(render_rule_file(generate([SLO_SPEC])))
    assert sum(sloth) == 17, sloth  # Sloth's own output: 8 SLI + 7 metadata recordings, 2 alerts
    assert sum(ours) < sum(sloth), (ours, sloth)
    assert ours[0] < sloth[0]


@pytest.mark.parametrize("phases", SCENARIOS)
def test_llmslo_pages_no_later_than_sloth(phases: list[Phase], tmp_path: Path) -> None:
    (tmp_path / "sloth.rules.yaml").write_text(sloth_ttft_rules())
    (tmp_path / "llmslo.rules.yaml").write_text(render_rule_file(generate([SLO_SPEC])))
    end = HISTORY + sum(p.minutes for p in phases)
    ours = _first_fire(alert_name(SLO_SPEC, "page"), "", end)
    sloth = _first_fire(SLOTH_ALERT, ',sloth_severity="page"', end)
    test = {
        "rule_files": ["llmslo.rules.yaml", "sloth.rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "name": "replay",
            "interval": "1m",
            "input_series": input_series(SLO_SPEC, [Phase(HISTORY, PER_MIN, 0), *phases]),
            "promql_expr_test": [
                # llmslo paged, and not after Sloth (Sloth may not page at all: then 1e18 stands in)
                {"expr": f"sum({ours} <= bool on() ({sloth} or on() vector(1e18)))", "eval_time": f"{end}m",
                 "exp_samples": [{"labels": "{}", "value": 1}]},
                # nothing paged during the healthy history
                {"expr": f"count({_first_fire(alert_name(SLO_SPEC, 'page'), '', HISTORY)})",
                 "eval_time": f"{HISTORY}m", "exp_samples": []},
            ],
        }],
    }
    (tmp_path / "replay.test.yaml").write_text(dump_yaml(test))
    promtool = shutil.which("promtool")
    assert promtool
    result = subprocess.run([promtool, "test", "rules", str(tmp_path / "replay.test.yaml")], capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
