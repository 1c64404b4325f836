"""promql/*: PromQL that parses but does not mean what its panel or alert says."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import promql_parser as pp

from slo.lint import promql
from slo.lint.context import Context, Hit, QueryInfo
from slo.lint.durations import format_duration
from slo.lint.metricsdb import Status

_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_PERCENTILE_NAME = re.compile(r"(^|[_:])(p\d{2,3}|percentile\w*|quantile)$")
_SHORT_RANGE_FUNCTIONS = frozenset({"rate", "increase", "delta", "deriv"})
_RAW_OK_ORIGINS = frozenset({"template", "selector"})


def _is_recorded(name: str) -> bool:
    """Recording-rule names (`level:metric:ops`) are already aggregated by whoever wrote them."""
    return name.count(":") >= 2


def _is_counter_series(name: str, ctx: Context) -> bool:
    res = ctx.db.resolve(name, ctx.recorded)
    if res.status is Status.KNOWN and res.series_kind != "unknown":
        return res.series_kind == "counter"
    return name.endswith(_COUNTER_SUFFIXES) and not _is_recorded(name)


def _raw_counters(node: pp.Expr, ctx: Context) -> list[str]:
    out = []
    for vs, anc in promql.selectors(node):
        name = promql.selector_name(vs)
        if name and not promql.in_range_function(anc) and _is_counter_series(name, ctx):
            out.append(name)
    return out


def check_lifetime_ratio(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    reported: set[int] = set()
    for node, anc in promql.walk(expr):
        if not isinstance(node, pp.BinaryExpr) or promql.op_name(node) != "/":
            continue
        if any(id(a) in reported for a in anc):
            continue
        left, right = _raw_counters(node.lhs, ctx), _raw_counters(node.rhs, ctx)
        if left and right:
            reported.add(id(node))
            yield Hit(
                "promql/lifetime-ratio", left[0],
                f"`{left[0]}` / `{right[0]}` divides counters without rate(): that is the average since each "
                f"process started, not the current value; divide rate({left[0]}[5m]) by rate({right[0]}[5m])",
            )


def check_quantile_le(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    for node, _ in promql.walk(expr):
        if not isinstance(node, pp.Call) or node.func.name != "histogram_quantile" or len(node.args) < 2:
            continue
        inner = node.args[1]
        if not isinstance(inner, pp.Expr):
            continue
        for vs, anc in promql.selectors(inner):
            name = promql.selector_name(vs) or ""
            if not name.endswith("_bucket"):
                continue
            aggs = [a for a in anc if isinstance(a, pp.AggregateExpr)]
            dropping = [a for a in aggs if not promql.keeps_label(a, "le")]
            if dropping:
                op = promql.op_name(dropping[0])
                yield Hit(
                    "promql/quantile-without-le", name,
                    f"histogram_quantile over `{name}`: `{op}` drops the `le` label, so there are no buckets "
                    f"left and the query returns nothing; aggregate with `{op} by (le, ...)`",
                )
            elif not aggs and not _is_recorded(name):
                yield Hit(
                    "promql/quantile-without-le", name,
                    f"histogram_quantile over `{name}` without `sum by (le)`: one quantile per series (pod, "
                    "engine, ...) instead of the quantile of the whole population; use "
                    "`histogram_quantile(q, sum by (le) (rate(...)))`",
                )
            break


def check_bucket_without_rate(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    if query.origin in _RAW_OK_ORIGINS:
        return
    for vs, anc in promql.selectors(expr):
        name = promql.selector_name(vs) or ""
        if name.endswith("_bucket") and not _is_recorded(name) and not promql.in_range_function(anc):
            yield Hit(
                "promql/bucket-without-rate", name,
                f"`{name}` is read raw: cumulative counts since the process started, which only grow; "
                f"use rate({name}[5m]) or increase({name}[$__range])",
            )


def _percentile_source(node: pp.Expr) -> str | None:
    for n, _ in promql.walk(node):
        if promql.call_name(n) == "histogram_quantile":
            return "histogram_quantile(...)"
        if isinstance(n, pp.VectorSelector):
            name = promql.selector_name(n) or ""
            if _PERCENTILE_NAME.search(name):
                return name
            if any(m.name == "quantile" for m in n.matchers.matchers):
                return f"{name}{{quantile=...}}"
    return None


def check_averaged_percentile(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    reported: set[int] = set()
    for node, anc in promql.walk(expr):
        if not isinstance(node, pp.AggregateExpr) or promql.op_name(node) not in ("avg", "sum"):
            continue
        if any(id(a) in reported for a in anc):
            continue
        source = _percentile_source(node.expr)
        if source is None:
            continue
        reported.add(id(node))
        op = promql.op_name(node)
        yield Hit(
            "promql/averaged-percentile", source.split("{")[0].split("(")[0],
            f"`{source}` are percentiles, combined with `{op}`: the {op} of per-series percentiles is not a "
            "percentile of anything; aggregate the histogram buckets first "
            "(`histogram_quantile(q, sum by (le) (rate(...)))`) or show max",
        )


def check_rate_range(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    minimum = 4 * ctx.config.scrape_interval_s
    for node, _ in promql.walk(expr):
        if not isinstance(node, pp.Call) or node.func.name not in _SHORT_RANGE_FUNCTIONS or not node.args:
            continue
        arg = node.args[0]
        if not isinstance(arg, pp.MatrixSelector):
            continue
        seconds = arg.range.total_seconds()
        if query.range_vars and seconds == 300:
            continue  # sized by Grafana ($__rate_interval)
        if seconds < minimum:
            name = promql.selector_name(arg.vector_selector) or ""
            yield Hit(
                "promql/rate-range-too-short", name,
                f"{node.func.name}({name}[{format_duration(seconds)}]) spans fewer than 4 scrape intervals "
                f"({format_duration(ctx.config.scrape_interval_s)} each): one missed scrape leaves too few "
                f"samples; use at least [{format_duration(minimum)}]",
            )


QueryCheck = Callable[[QueryInfo, pp.Expr, Context], Iterable[Hit]]
QUERY_CHECKS: tuple[QueryCheck, ...] = (
    check_quantile_le,
    check_lifetime_ratio,
    check_bucket_without_rate,
    check_averaged_percentile,
    check_rate_range,
)
