"""Rule generation: shape, names, factors, determinism and the CLI (pure, no promtool)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.cli import main
from slo.rules import conventions as cv
from slo.rules.generate import EmptyResultError, generate
from slo.rules.output import plan
from slo.rules.windows import pairs_for
from slo.spec import SLO, load_specs, parse_spec_text

EXAMPLES = Path(__file__).resolve().parents[2] / "slo" / "examples"


def _slo(**fields: object) -> SLO:
    base: dict[str, object] = {"name": "s", "sli": {"kind": "latency", "threshold": 0.5}, "objective": 99.9}
    base.update(fields)
    return SLO.model_validate(base)


def test_one_group_with_fewer_rules_than_sloth() -> None:
    [group] = generate([_slo(window="30d")])
    assert group.name == "llmslo-slo-s"
    assert len(group.rules) < 17
    assert group.records == (
        "llmslo_slo:bad:rate5m", "llmslo_slo:events:rate5m",
        *(f"llmslo_slo:error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
        "llmslo_slo:error:ratio_period", "llmslo_slo:objective:ratio", "llmslo_slo:error_budget_remaining:ratio",
    )
    assert group.alerts == ("LLMSLOBudgetBurnPage", "LLMSLOBudgetBurnTicket", "LLMSLONoData")
    for rule in group.rules:
        assert dict(rule.labels)[cv.SLO_LABEL] == "s"


def test_long_windows_reuse_the_5m_rates_traffic_weighted() -> None:
    [group] = generate([_slo(window="28d")])
    exprs = {r.record: r.expr for r in group.rules if r.record}
    assert exprs["llmslo_slo:error:ratio_rate6h"] == (
        'sum_over_time(llmslo_slo:bad:rate5m{slo="s"}[5h55m])\n/\nsum_over_time(llmslo_slo:events:rate5m{slo="s"}[5h55m])'
    )
    assert "[27d23h55m]" in exprs["llmslo_slo:error:ratio_period"]
    assert "_bucket" in exprs["llmslo_slo:error:ratio_rate1h"]  # short windows read the source
    assert exprs["llmslo_slo:error_budget_remaining:ratio"] == '1 - llmslo_slo:error:ratio_period{slo="s"} / 0.001'


@pytest.mark.parametrize(("window", "factors"), [
    pytest.param("30d", ["14.4", "6", "3", "1"], id="30d"),
    pytest.param("28d", ["13.44", "5.6", "2.8", "0.933333333333"], id="28d"),
    pytest.param("7d", ["3.36", "1.4", "0.7", "0.233333333333"], id="7d"),
])
def test_factors_scale_with_the_slo_window(window: str, factors: list[str]) -> None:
    assert [str(p.factor) for p in pairs_for(_slo(window=window))] == factors


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=90), st.sampled_from(["99", "99.5", "99.9", "99.95", "99.99"]))
def test_each_pair_spends_the_same_budget_share_at_any_window(days: int, objective: str) -> None:
    slo = _slo(window=f"{days}d", objective=float(objective))
    shares = [p.budget_share(slo.window_seconds) for p in pairs_for(slo)]
    for share, expected in zip(shares, ("0.02", "0.05", "0.1", "0.1"), strict=True):
        assert abs(share - Decimal(expected)) < Decimal("1e-9")
    assert slo.error_budget == 1 - Decimal(objective) / 100


def test_threshold_literals_are_exact_decimals() -> None:
    [group] = generate([_slo(objective=99.95, window="30d")])
    page = next(r for r in group.rules if r.alert == "LLMSLOBudgetBurnPage")
    assert "(0.0072 - 1e-12)" in page.expr and "(0.003 - 1e-12)" in page.expr
    assert "0.000499999" not in page.expr


def test_integral_thresholds_match_both_le_spellings() -> None:
    [group] = generate([_slo(sli={"kind": "latency", "metric": "e2e", "threshold": 10})])
    assert 'le=~"10|10\\\\.0"' in group.rules[0].expr


def test_disabled_tiers_and_custom_windows() -> None:
    slo = _slo(alerting={"ticket": {"enabled": False}, "no_data": {"enabled": False},
                         "windows": [{"severity": "page", "long": "2h", "short": "10m", "factor": 10}]})
    [group] = generate([slo])
    assert group.alerts == ("LLMSLOBudgetBurnPage",)
    assert "llmslo_slo:error:ratio_rate2h" in group.records and "llmslo_slo:error:ratio_rate3d" not in group.records


def test_min_traffic_guards_every_pair() -> None:
    [group] = generate([_slo(min_traffic="36/h")])
    page = next(r for r in group.rules if r.alert == "LLMSLOBudgetBurnPage")
    assert page.expr.count('avg_over_time(llmslo_slo:events:rate5m{slo="s"}') == 2
    assert page.expr.count(">= 0.01\n") == 2


def test_every_kind_generates() -> None:
    kinds = [
        {"kind": "token_latency", "threshold": 0.05},
        {"kind": "availability", "source": "engine", "aborts_are_failures": True},
        {"kind": "cache_hit", "floor": 0.3},
        {"kind": "throughput", "floor": 50},
        {"kind": "goodput", "targets": {"ttft": 0.5}},
        {"kind": "ratio", "bad": 'errs_total{job="a"}', "total": 'reqs_total{job="a"}'},
    ]
    groups = generate([_slo(name=f"k{i}", sli=sli) for i, sli in enumerate(kinds)])
    assert [len(g.rules) for g in groups] == [15] * len(kinds)
    exprs = {g.slo: g.rules[0].expr for g in groups}
    assert 'outcome=~"error|abort"' in exprs["k1"]
    assert "< bool 0.3" in exprs["k2"]
    assert 'slo="k4"' in exprs["k4"] and 'goodput="missed"' in exprs["k4"]


def test_empty_result_is_an_error() -> None:
    with pytest.raises(EmptyResultError, match="no rules generated"):
        generate([])


def test_output_is_deterministic_and_sorted() -> None:
    slos = load_specs(sorted(EXAMPLES.glob("*.yaml")))
    first = plan(slos)
    assert plan(list(reversed(slos))) == first
    assert list(first) == sorted(first)
    rules = yaml.safe_load(first["ttft-per-model.rules.yaml"])
    assert first["ttft-per-model.rules.yaml"].startswith("# Code generated by llmslo rules generate. DO NOT EDIT.\n")
    prom_rule = yaml.safe_load(first["ttft-per-model.prometheusrule.yaml"])
    assert prom_rule["apiVersion"] == "monitoring.coreos.com/v1" and prom_rule["kind"] == "PrometheusRule"
    assert prom_rule["spec"]["groups"] == rules["groups"]


def test_cli_generates_and_reports_spec_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "generate", str(EXAMPLES / "goodput.yaml"), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.yaml")) == [
        "goodput-chat.budget.test.yaml", "goodput-chat.test.yaml", "goodput.prometheusrule.yaml", "goodput.rules.yaml"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: llmslo/v1\nslos:\n  - {name: x, sli: {kind: latency, threshold: 0.3}, objective: 99}\n")
    capsys.readouterr()
    assert main(["rules", "generate", str(bad), "-o", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}:3: slos[0].sli.threshold: threshold 0.3 s" in err
    assert not (tmp_path / "o2").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["rules", "generate", str(empty), "-o", str(tmp_path / "o3")]) == 1
    assert "no SLOs found" in capsys.readouterr().err


def test_min_traffic_rate_forms() -> None:
    _slos, problems = parse_spec_text(
        "apiVersion: llmslo/v1\nslos:\n  - {name: x, sli: {kind: availability}, objective: 99, min_traffic: 5/q}\n",
        "s.yaml")
    assert [p.field for p in problems] == ["slos[0].min_traffic"]
    assert _slo(min_traffic="120/m").min_rate == 2.0 and _slo(min_traffic=0.5).min_rate == 0.5


def test_public_surfaces_are_complete() -> None:
    import slo.rules
    import slo.spec

    for module in (slo.spec, slo.rules):
        assert len(set(module.__all__)) == len(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
    assert {"load_specs", "check_threshold", "expand", "SpecError", "ThresholdError", "SLO"} <= set(slo.spec.__all__)
