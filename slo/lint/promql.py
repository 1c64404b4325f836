"""A thin layer over promql-parser: parse without raising, and walk the AST with its ancestors.

promql-parser's own `walk` gives no parent, and most of our checks are about context ("is this
selector inside a rate?", "is this quantile inside an avg?"), so we walk ourselves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import promql_parser as pp

RANGE_FUNCTIONS = frozenset(
    {
        "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets", "changes",
        "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
        "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time",
        "absent_over_time", "holt_winters", "double_exponential_smoothing", "mad_over_time",
        "first_over_time", "ts_of_max_over_time", "ts_of_min_over_time", "ts_of_last_over_time",
    }
)
COUNTER_RANGE_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


_COMMENT = re.compile(r"#[^\n]*")


def shape(expr: str) -> str:
    """The expression with its double-quoted strings (label values) blanked. No check depends on
    label values, and generated artifacts repeat one shape per SLO, so each shape is parsed and
    checked once. `{__name__="..."}` names a metric: such expressions keep their strings. Comments
    go too. A blanked expression that no longer parses is re-parsed as written by the caller."""
    if "#" in expr:
        expr = _COMMENT.sub("", expr)
    if '"' not in expr or "__name__" in expr:
        return expr
    return _STRING.sub('""', expr)


@dataclass(frozen=True, slots=True)
class ParseResult:
    expr: pp.Expr | None
    error: str


@lru_cache(maxsize=65536)
def parse(expr: str) -> ParseResult:
    try:
        return ParseResult(pp.parse(expr), "")
    except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
        return ParseResult(None, str(exc) or type(exc).__name__)
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return ParseResult(None, f"parser failure: {exc}")


def children(node: pp.Expr) -> list[pp.Expr]:
    if isinstance(node, pp.AggregateExpr):
        out = [node.expr]
        if isinstance(node.param, pp.Expr):
            out.append(node.param)
        return out
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.UnaryExpr | pp.ParenExpr | pp.SubqueryExpr):
        return [node.expr]
    if isinstance(node, pp.Call):
        return [a for a in node.args if isinstance(a, pp.Expr)]
    if isinstance(node, pp.MatrixSelector):
        return [node.vector_selector]
    return []


def walk(node: pp.Expr, ancestors: tuple[pp.Expr, ...] = ()) -> Iterator[tuple[pp.Expr, tuple[pp.Expr, ...]]]:
    """Every node, pre-order, with its ancestors (outermost first)."""
    stack: list[tuple[pp.Expr, tuple[pp.Expr, ...]]] = [(node, ancestors)]
    while stack:
        current, anc = stack.pop()
        yield current, anc
        inner = (*anc, current)
        stack.extend((child, inner) for child in reversed(children(current)))


def selector_name(vs: pp.VectorSelector) -> str | None:
    if vs.name:
        return vs.name
    for m in vs.matchers.matchers:
        if m.name == "__name__" and m.op == pp.MatchOp.Equal:
            return m.value
    return None


def selectors(node: pp.Expr) -> Iterator[tuple[pp.VectorSelector, tuple[pp.Expr, ...]]]:
    for n, anc in walk(node):
        if isinstance(n, pp.VectorSelector):
            yield n, anc


def call_name(node: pp.Expr) -> str | None:
    return node.func.name if isinstance(node, pp.Call) else None


def op_name(node: pp.AggregateExpr | pp.BinaryExpr) -> str:
    return str(node.op).strip().lower()


def in_range_function(ancestors: tuple[pp.Expr, ...]) -> bool:
    """Whether a selector is read over a range (rate, *_over_time, subquery) rather than raw."""
    return any(
        isinstance(a, pp.MatrixSelector | pp.SubqueryExpr) or call_name(a) in RANGE_FUNCTIONS for a in ancestors
    )


def grouping(agg: pp.AggregateExpr) -> tuple[str, frozenset[str]] | None:
    """("by"|"without", labels) for an aggregation, None when it has no clause (drops all labels)."""
    mod = agg.modifier
    if mod is None:
        return None
    kind = "by" if mod.type == pp.AggModifierType.By else "without"
    return kind, frozenset(mod.labels)


def keeps_label(agg: pp.AggregateExpr, label: str) -> bool:
    g = grouping(agg)
    if g is None:
        return False
    kind, labels = g
    return (label in labels) if kind == "by" else (label not in labels)


def constant_value(node: pp.Expr) -> float | None:
    """The value of a constant arithmetic expression (`14.4 * (1 - 0.999)`), else None."""
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.ParenExpr):
        return constant_value(node.expr)
    if isinstance(node, pp.UnaryExpr):
        inner = constant_value(node.expr)
        return -inner if inner is not None else None
    if isinstance(node, pp.BinaryExpr):
        a, b = constant_value(node.lhs), constant_value(node.rhs)
        if a is None or b is None:
            return None
        op = op_name(node)
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b
            if op == "^":
                return float(a**b)
        except (ZeroDivisionError, OverflowError):
            return None
    return None
