"""Whatever the bytes, slo-lint answers with located findings, never a traceback: random bytes,
random mutations of real dashboards, rule files and specs, and random mutations of PromQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.captures import SHARED_FIXTURES

from slo.lint import Finding, lint_paths
from slo.lint import promql as lint_promql

from .builders import rules_file

ANCHORS = SHARED_FIXTURES.parent / "reference" / "anchors"
SEEDS = {
    "dashboard.json": (ANCHORS / "dashboards" / "llm-d__guides__recipes__observability__grafana__dashboards__"
                       "llm-d-performance-kv-cache.json"),
    "rules.yaml": ANCHORS / "sloth" / "examples" / "_gen" / "getting-started.yml",
    "openslo.yaml": ANCHORS / "sloth" / "examples" / "openslo-getting-started.yml",
}
SPEC = """apiVersion: llmslo/v1
kind: SLOSpec
slos:
  - name: ttft
    sli: {kind: latency, metric: ttft, threshold: 0.5}
    objective: 99
    window: 7d
    by: [model, tenant]
"""
EXPRS = (
    'histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="m"}[5m])))',
    "sum(rate(vllm:prefix_cache_hits_total[5m])) / sum(rate(vllm:prefix_cache_queries_total[5m]))",
    "avg(max by (pod) (e2e_request_latency_seconds_p99)) > bool 2 * (1 - 0.99)",
    "label_replace(up{job=~\"a|b\"}, \"x\", \"$1\", \"instance\", \"(.*):.*\") offset 5m @ 100",
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _lint_bytes(tmp_path: Path, name: str, data: bytes) -> list[Finding]:
    path = tmp_path / name
    path.write_bytes(data)
    findings = lint_paths([str(path)]).findings
    for f in findings:
        assert f.line >= 1 and f.col >= 1, f
        assert f.path == str(path), f
        assert "internal error" not in f.message, f
    return findings


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("delete", "insert", "replace", "duplicate")))
        pos = draw(st.integers(0, len(data)))
        if op == "delete":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
                [b"{", b"}", b"[", b"]", b'"', b":", b"\n  - ", b"\t", b"&a", b"*a", b"!!python/object", b"\xff"]))
        elif op == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            end = min(len(data), pos + draw(st.integers(1, 80)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@pytest.mark.parametrize("name", ["x.yaml", "x.json"])
@SETTINGS
@given(data=st.binary(max_size=400))
def test_random_bytes_give_located_findings(tmp_path: Path, name: str, data: bytes) -> None:
    _lint_bytes(tmp_path, name, data)


@pytest.mark.parametrize("name", sorted(SEEDS))
@SETTINGS
@given(st.data())
def test_mutated_real_files_never_crash(tmp_path: Path, name: str, data: st.DataObject) -> None:
    seed = SEEDS[name].read_bytes()
    _lint_bytes(tmp_path, name, data.draw(mutated(seed)))


@SETTINGS
@given(st.data())
def test_mutated_specs_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    _lint_bytes(tmp_path, "spec.yaml", data.draw(mutated(SPEC.encode())))


@SETTINGS
@given(st.data())
def test_mutated_promql_is_parsed_or_located(tmp_path: Path, data: st.DataObject) -> None:
    expr = data.draw(mutated(data.draw(st.sampled_from(EXPRS)).encode())).decode("utf-8", "replace")
    parsed = lint_promql.parse(expr)
    assert (parsed.expr is None) == bool(parsed.error)
    content = rules_file(expr.replace("\n", " ")) if "\n" not in expr else rules_file(expr)
    findings = _lint_bytes(tmp_path, "rules.yaml", content.encode())
    if parsed.expr is None and content.isascii():
        syntax = [f for f in findings if f.check_id in ("promql/syntax", "input/unreadable")]
        assert syntax, findings


@SETTINGS
@given(exprs=st.lists(st.sampled_from(EXPRS) | st.text(max_size=60), min_size=1, max_size=4))
def test_dashboards_with_arbitrary_queries(tmp_path: Path, exprs: list[str]) -> None:
    board = {"panels": [{"type": "timeseries", "targets": [{"expr": e}]} for e in exprs],
             "templating": {"list": [{"type": "query", "name": "v", "query": f"label_values({exprs[0]}, x)"}]}}
    _lint_bytes(tmp_path, "board.json", json.dumps(board).encode())
