"""Every query in the generated dashboards avoids the defects found in the reference dashboards
(llm-observability-anchors.md, Appendix A), checked on the parsed expression, not on its text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promql_parser as pp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.llm import promql as q
from dashboards.render.expand import expand, variable_defaults
from slo.catalog import CATALOG, Instrument, get
from slo.rules import conventions as cv

from .support_boards import all_boards, queries

HISTOGRAMS = sorted(s.key for s in CATALOG if s.instrument is Instrument.HISTOGRAM)
CUMULATIVE = {s.prom_name for s in CATALOG if s.instrument is Instrument.COUNTER} | {
    s.prom_name + suffix for s in CATALOG if s.instrument is Instrument.HISTOGRAM
    for suffix in ("_bucket", "_sum", "_count")}
RECORDED = {cv.bad_rate(), cv.events_rate(), cv.ERROR_RATIO_PERIOD, cv.OBJECTIVE, cv.BUDGET_REMAINING,
            *(cv.error_ratio(w) for w in (300, 1800, 3600, 7200, 21600, 86400, 259200))}
KNOWN = {s.prom_name for s in CATALOG} | CUMULATIVE | RECORDED | {"ALERTS"}

CASES = [(b["uid"], panel, target) for b in all_boards() for panel, target in queries(b)]
IDS = [f"{uid}:{panel['title']}:{target['refId']}" for uid, panel, target in CASES]


VALUES = {b["uid"]: variable_defaults(b, "1m") for b in all_boards()}


def parsed(board_uid: str, expr: str) -> Any:
    return pp.parse(expand(expr, VALUES[board_uid]))


def walk(node: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    yield node, parents
    for attr in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from walk(child, (*parents, node))
    for child in getattr(node, "args", None) or ():
        yield from walk(child, (*parents, node))


def test_there_are_queries() -> None:
    assert len(CASES) > 50


@pytest.mark.parametrize(("uid", "panel", "target"), CASES, ids=IDS)
def test_query_is_sound(uid: str, panel: dict[str, Any], target: dict[str, Any]) -> None:
    tree = parsed(uid, target["expr"])
    for node, parents in walk(tree):
        if isinstance(node, pp.VectorSelector | pp.MatrixSelector):
            name = (node.vector_selector if isinstance(node, pp.MatrixSelector) else node).name
            assert name in KNOWN, f"{name}: not a canonical metric of the catalog"
            if name in CUMULATIVE:  # counters and histogram parts only ever under rate()
                assert isinstance(node, pp.MatrixSelector) and isinstance(parents[-1], pp.Call) \
                    and parents[-1].func.name == "rate", f"{name} used without rate(): lifetime value"
        if isinstance(node, pp.Call) and node.func.name == "histogram_quantile":
            cmp = parents[-1] if parents else None
            assert isinstance(cmp, pp.BinaryExpr) and str(cmp.op) == ">=" and cmp.lhs is not None, \
                "a quantile must be filtered with >= 0: an empty window is NaN, the panel should say 'no traffic'"
            inner = node.args[1]
            while isinstance(inner, pp.BinaryExpr) and str(inner.op) in ("and", "unless"):
                inner = inner.lhs  # a filter on which groups to keep, buckets on the left
            assert isinstance(inner, pp.AggregateExpr) and str(inner.op) == "sum" \
                and "le" in (inner.modifier.labels if inner.modifier else []), \
                "histogram_quantile must aggregate buckets with sum by (le, ...)"
        if isinstance(node, pp.BinaryExpr) and str(node.op) == "/":
            rhs = node.rhs.expr if isinstance(node.rhs, pp.ParenExpr) else node.rhs
            if isinstance(rhs, pp.NumberLiteral):
                assert rhs.val > 0, "division by a non-positive constant"
                continue
            assert isinstance(rhs, pp.BinaryExpr) and str(rhs.op) == ">" \
                and isinstance(rhs.rhs, pp.NumberLiteral) and rhs.rhs.val == 0, \
                "a denominator must be filtered with > 0 so an idle model shows 'no traffic', not NaN"


@pytest.mark.parametrize("board", all_boards(), ids=lambda b: b["uid"])
def test_every_panel_says_what_it_measures_and_how_empty_reads(board: dict[str, Any]) -> None:
    for panel, _ in ((p, None) for p in {id(p): p for p, _ in queries(board)}.values()):
        defaults = panel["fieldConfig"]["defaults"]
        assert len(panel["description"]) > 40, panel["title"]
        assert defaults.get("unit"), panel["title"]
        assert defaults.get("noValue"), panel["title"]


@given(st.sampled_from(HISTOGRAMS), st.floats(min_value=0.001, max_value=0.999),
       st.lists(st.sampled_from(["model_name", "pod", "engine", "tenant"]), unique=True, max_size=3))
def test_quantile_sums_buckets_by_le_and_the_group(key: str, pct: float, group: list[str]) -> None:
    tree = pp.parse(expand(q.quantile(pct, key, group), {"namespace": ".*", "model": ".*", "pod": ".*",
                                                         "__rate_interval": "1m"}))
    assert isinstance(tree, pp.BinaryExpr) and str(tree.op) == ">="  # the NaN of an empty window dropped
    call = tree.lhs
    assert isinstance(call, pp.Call) and call.func.name == "histogram_quantile"
    assert list(call.args[1].modifier.labels) == ["le", *group]


@given(st.sampled_from(HISTOGRAMS), st.data())
def test_share_within_accepts_boundaries_only(key: str, data: st.DataObject) -> None:
    boundaries = get(key).boundaries
    threshold = data.draw(st.sampled_from(boundaries))
    assert "le=" in q.share_within(key, threshold, ("model_name",))
    off = data.draw(st.floats(min_value=0.0001, max_value=1e4).filter(lambda f: f not in boundaries))
    with pytest.raises(ValueError, match="not a bucket boundary"):
        q.share_within(key, off, ("model_name",))


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="gauge"):
        q.rate("kv_cache_usage")
    with pytest.raises(ValueError, match="not a histogram"):
        q.quantile(0.9, "requests", ())
    with pytest.raises(ValueError, match="outside"):
        q.quantile(1.5, "ttft", ())
