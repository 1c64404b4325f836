"""Spec-level checks: passing and failing table cases on llmslo/v1 and OpenSLO documents."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import pytest

from slo.catalog.versions import parse_version
from slo.lint import LintConfig

from .conftest import LintText


def spec(slo_body: str) -> str:
    lines = slo_body.strip("\n").splitlines()
    body = "".join(f"    {line}\n" for line in lines[1:])
    return f"apiVersion: llmslo/v1\nkind: SLOSpec\nslos:\n  - {lines[0]}\n{body}"


LONG_RETENTION = replace(LintConfig(), retention_s=90 * 86400.0)


class Case(NamedTuple):
    check: str
    content: str
    expected: int
    config: LintConfig | None = LONG_RETENTION


LATENCY = "sli: {kind: latency, metric: ttft, threshold: 0.5}"

CASES = {
    "schema: valid": Case("spec/schema", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 7d"), 0),
    "schema: misspelt field": Case(
        "spec/schema", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 7d\nwindw: 7d"), 1),
    "schema: wrong type": Case("spec/schema", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: [7d]"), 1),
    "objective: 99.9": Case("spec/objective-range", spec(f"name: a\n{LATENCY}\nobjective: 99.9\nwindow: 7d"), 0),
    "objective: 100": Case("spec/objective-range", spec(f"name: a\n{LATENCY}\nobjective: 100\nwindow: 7d"), 1),
    "objective: 0": Case("spec/objective-range", spec(f"name: a\n{LATENCY}\nobjective: 0\nwindow: 7d"), 1),
    "objective: text": Case("spec/objective-range", spec(f"name: a\n{LATENCY}\nobjective: high\nwindow: 7d"), 1),
    "window: 28d with 90d retention": Case(
        "spec/window-retention", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 28d"), 0),
    "window: 28d with the 15d default": Case(
        "spec/window-retention", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 28d"), 1, None),
    "sli: known": Case("spec/unknown-sli", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 7d"), 0),
    "sli: typo": Case(
        "spec/unknown-sli",
        spec("name: a\nsli: {kind: latency, metric: ttf, threshold: 0.5}\nobjective: 99\nwindow: 7d"), 1),
    "threshold: on a boundary": Case(
        "slo/threshold-off-bucket", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 7d"), 0),
    "threshold: between 0.25 and 0.5": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: ttft, threshold: 0.3}\nobjective: 99\nwindow: 7d"), 1),
    "threshold: TPOT grid": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: tpot, threshold: 0.06}\nobjective: 99\nwindow: 7d"), 1),
    "threshold: canonical and a vLLM e2e boundary": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: e2e, threshold: 0.3}\nobjective: 99\nwindow: 7d"), 0),
    "threshold: canonical but not a vLLM e2e boundary": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: e2e, threshold: 0.32}\nobjective: 99\nwindow: 7d"), 1),
    "threshold: 20 s TTFT on vLLM 0.6 (V0 buckets stop at 10)": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: ttft, threshold: 20}\nobjective: 99\nwindow: 7d"), 1,
        replace(LONG_RETENTION, vllm_version=parse_version("0.6.0"))),
    "threshold: proxy SLIs use llmslo's own buckets": Case(
        "slo/threshold-off-bucket",
        spec("name: a\nsli: {kind: latency, metric: proxy_e2e, threshold: 0.32}\nobjective: 99\nwindow: 7d"), 0),
    "burn: default windows at 99%": Case(
        "alert/burn-factor-unreachable", spec(f"name: a\n{LATENCY}\nobjective: 99\nwindow: 28d"), 0),
    "burn: default 14.4x page at 90% over 30d": Case(
        "alert/burn-factor-unreachable", spec(f"name: a\n{LATENCY}\nobjective: 90\nwindow: 30d"), 1),
    "burn: explicit factor 20 at 95%": Case(
        "alert/burn-factor-unreachable",
        spec(f"name: a\n{LATENCY}\nobjective: 95\nwindow: 30d\nalerting:\n  windows:\n"
             "    - {severity: page, long: 1h, short: 5m, factor: 20}\n"
             "    - {severity: ticket, long: 1d, short: 2h, factor: 2}"), 1),
    "tenants: by model and tenant": Case(
        "alert/tenant-cardinality",
        spec("name: a\nsli: {kind: availability}\nobjective: 99\nwindow: 7d\nby: [model, tenant]"), 0),
    "tenants: by tenant and pod": Case(
        "alert/tenant-cardinality",
        spec("name: a\nsli: {kind: availability}\nobjective: 99\nwindow: 7d\nby: [tenant, pod]"), 1),
    "openslo: target 0.999": Case(
        "spec/objective-range",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  objectives:\n    - target: 0.999\n", 0),
    "openslo: target 99.9": Case(
        "spec/objective-range",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  objectives:\n    - target: 99.9\n", 1),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_spec_table(case: Case, lint_text: LintText) -> None:
    findings = lint_text(case.content, "spec.yaml", case.config)
    mine = [f for f in findings if f.check_id == case.check]
    detail = "\n".join(f"{f.line}: {f.check_id}: {f.message}" for f in findings)
    if case.check == "spec/schema" and case.expected:
        # slo.spec may add consequential problems (e.g. on `slos` itself); the bad field must be among them
        assert any(f.line == len(case.content.splitlines()) for f in mine), detail
    else:
        assert len(mine) == case.expected, detail


def test_spec_findings_point_at_the_field(lint_text: LintText) -> None:
    content = spec("name: a\nsli:\n  kind: latency\n  metric: ttft\n  threshold: 0.3\nobjective: 99\nwindow: 7d")
    (f,) = [f for f in lint_text(content, "spec.yaml", LONG_RETENTION) if f.check_id == "slo/threshold-off-bucket"]
    assert content.splitlines()[f.line - 1].strip() == "threshold: 0.3"
    assert "0.25" in f.message and "0.5" in f.message


def test_every_spec_check_has_both_outcomes() -> None:
    for cid in {c.check for c in CASES.values()}:
        assert {c.expected > 0 for c in CASES.values() if c.check == cid} == {True, False}, cid
