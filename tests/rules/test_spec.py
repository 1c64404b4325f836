"""SLO spec loading: located errors, the threshold check, OpenSLO translation, instantiation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo.catalog import BY_KEY, CATALOG, Instrument
from slo.spec import SpecError, ThresholdError, check_threshold, expand, load_specs, parse_spec_text

EXAMPLES = Path(__file__).resolve().parents[2] / "slo" / "examples"
HISTOGRAMS = [s.key for s in CATALOG if s.instrument is Instrument.HISTOGRAM]


def _problems(text: str) -> list[tuple[int, str, str]]:
    _slos, problems = parse_spec_text(text, "spec.yaml")
    assert problems, "expected problems"
    return [(p.line, p.field, p.message) for p in problems]


def test_every_problem_is_reported_with_line_and_field() -> None:
    text = """apiVersion: llmslo/v1
slos:
  - name: ttft
    sli: {kind: latency, metric: ttft, threshold: 0.3}
    objective: 99.9
  - name: Bad_Name
    sli: {kind: availability}
    objective: 100
    window: 28x
    bogus: 1
"""
    problems = _problems(text)
    fields = {f: (line, msg) for line, f, msg in problems}
    assert fields["slos[0].sli.threshold"][0] == 4
    assert "nearest boundaries are 0.25 s or 0.5 s" in fields["slos[0].sli.threshold"][1]
    assert fields["slos[1].name"][0] == 6
    assert fields["slos[1].objective"][0] == 8
    assert fields["slos[1].window"][0] == 9
    assert fields["slos[1].bogus"] == (10, "unknown field")


def test_spec_error_message_names_file_line_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: llmslo/v1\nslos:\n  - name: x\n    objective: 99\n")
    with pytest.raises(SpecError) as info:
        load_specs([spec])
    assert str(info.value) == f"{spec}:3: slos[0].sli: Field required"
    assert info.value.first.line == 3


def test_yaml_syntax_error_and_duplicate_keys_are_located() -> None:
    assert _problems("apiVersion: llmslo/v1\nslos: [\n") [0][0] == 3
    dup = "apiVersion: llmslo/v1\nslos:\n  - name: a\n    name: b\n    sli: {kind: availability}\n    objective: 99\n"
    assert _problems(dup) == [(4, "slos[0].name", "duplicate key; YAML would silently keep only the last one")]


def test_unknown_api_version_and_duplicate_names(tmp_path: Path) -> None:
    assert _problems("apiVersion: prometheus/v1\n")[0][1] == "apiVersion"
    one = "apiVersion: llmslo/v1\nslos:\n  - {name: a, sli: {kind: availability}, objective: 99}\n"
    (tmp_path / "a.yaml").write_text(one)
    (tmp_path / "b.yaml").write_text(one)
    with pytest.raises(SpecError, match=r"b.yaml:3: name: duplicate SLO name 'a' \(first defined at .*a.yaml:3\)"):
        load_specs([tmp_path])


def test_labels_the_sli_does_not_carry_are_rejected() -> None:
    text = "apiVersion: llmslo/v1\nslos:\n  - name: a\n    sli: {kind: latency, threshold: 0.5}\n" \
           "    objective: 99\n    by: [model, tenant]\n"
    [(line, fld, msg)] = _problems(text)
    assert (line, fld) == (6, "slos[0].by")
    assert "'tenant'" in msg and "gen_ai_server_time_to_first_token_seconds" in msg


@given(st.sampled_from(HISTOGRAMS), st.data())
def test_every_boundary_is_accepted(key: str, data: st.DataObject) -> None:
    check_threshold(key, data.draw(st.sampled_from(BY_KEY[key].boundaries)))


@given(st.sampled_from(HISTOGRAMS), st.floats(min_value=1e-4, max_value=1e5, allow_nan=False))
def test_off_grid_thresholds_name_their_neighbours(key: str, value: float) -> None:
    bounds = BY_KEY[key].boundaries
    if any(abs(b - value) <= 1e-9 * b for b in bounds):
        check_threshold(key, value)
        return
    with pytest.raises(ThresholdError) as info:
        check_threshold(key, value)
    below = [b for b in bounds if b < value]
    above = [b for b in bounds if b > value]
    assert info.value.below == (max(below) if below else None)
    assert info.value.above == (min(above) if above else None)


def test_threshold_on_a_counter_is_rejected() -> None:
    with pytest.raises(ThresholdError, match="not a histogram"):
        check_threshold("output_tokens", 1.0)


def test_expand_maps_model_to_model_name() -> None:
    [slo] = load_specs([EXAMPLES / "availability-per-tenant.yaml"])
    [inst] = expand(slo)
    assert inst.group_labels == ("tenant", "model_name")
    assert inst.selector("m", 'outcome="x"') == 'm{outcome="x"}'
    assert slo.error_budget.as_tuple() == (0, (5,), -3)


OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata: {name: ttft-openslo, labels: {team: llm}}
spec:
  service: chat
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  indicatorRef: ttft
  objectives:
    - {displayName: fast, op: lte, value: 0.5, target: 0.995}
  alertPolicies:
    - alertPolicyRef: burn
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: ttft}
spec:
  thresholdMetric:
    metricSource: {type: Prometheus, spec: {query: 'gen_ai_server_time_to_first_token_seconds{model_name="llama"}'}}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: burn}
spec:
  alertWhenNoData: true
  conditions:
    - conditionRef: fast
    - kind: AlertCondition
      metadata: {name: slow}
      spec: {severity: ticket, condition: {kind: burnrate, op: gte, threshold: 1, lookbackWindow: 3d}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast}
spec: {severity: page, condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h}}
"""


def test_openslo_threshold_metric_with_alert_policy() -> None:
    slos, problems = parse_spec_text(OPENSLO, "o.yaml")
    assert problems == []
    [slo] = slos
    assert (slo.name, slo.objective, slo.window) == ("ttft-openslo", 99.5, "28d")
    assert slo.match == {"model_name": "llama"}
    assert slo.sli.kind == "latency" and slo.sli.threshold == 0.5
    assert slo.labels == {"team": "llm", "service": "chat"}
    windows = [(w.severity, w.long, w.short, w.factor) for w in slo.alerting.windows or ()]
    assert windows == [("page", "1h", "5m", 14.4), ("ticket", "3d", "6h", 1.0)]
    assert slo.alerting.reference_window == "28d" and slo.alerting.no_data.enabled


def test_openslo_ratio_metric_and_off_grid_threshold() -> None:
    ratio = OPENSLO.replace(
        "  thresholdMetric:\n    metricSource: {type: Prometheus, spec: {query: "
        "'gen_ai_server_time_to_first_token_seconds{model_name=\"llama\"}'}}",
        "  ratioMetric:\n    counter: true\n    bad: {metricSource: {type: Prometheus, spec: {query: 'errs_total'}}}\n"
        "    total: {metricSource: {type: Prometheus, spec: {query: 'reqs_total{job=\"a\"}'}}}",
    )
    [slo], problems = parse_spec_text(ratio, "o.yaml")
    assert problems == [] and slo.sli.kind == "ratio" and slo.sli.total == 'reqs_total{job="a"}'
    off = OPENSLO.replace("value: 0.5", "value: 0.3")
    [(line, fld, msg)] = [(p.line, p.field, p.message) for p in parse_spec_text(off, "o.yaml")[1]]
    assert (line, fld) == (10, "slos[0].sli.threshold") and "0.25 s or 0.5 s" in msg


def test_openslo_unsupported_parts_are_located() -> None:
    cal = OPENSLO.replace("isRolling: true", "isRolling: false")
    [problem] = parse_spec_text(cal, "o.yaml")[1]
    assert (problem.line, problem.field) == (7, "spec.timeWindow[0]")
    missing = OPENSLO.replace("alertPolicyRef: burn", "alertPolicyRef: nope")
    [problem] = parse_spec_text(missing, "o.yaml")[1]
    assert problem.line == 12 and "AlertPolicy 'nope' is not defined" in problem.message
