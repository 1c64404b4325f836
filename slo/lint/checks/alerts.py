"""alert/*: alerting rules that cannot fire, cannot be acted on, or break at evaluation time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

import promql_parser as pp

from slo.lint import promql
from slo.lint.context import Context, finding
from slo.lint.findings import Finding
from slo.lint.model import Rule

_RATIO_WORDS = ("error", "ratio", "sli")


def _threshold(node: pp.Expr) -> tuple[float, pp.Expr, pp.Expr] | None:
    """(constant, constant side, other side) of a comparison against a constant."""
    if not isinstance(node, pp.BinaryExpr) or promql.op_name(node) not in (">", ">="):
        return None
    value = promql.constant_value(node.rhs)
    if value is not None and promql.constant_value(node.lhs) is None:
        return value, node.rhs, node.lhs
    return None


def _factor_objective(node: pp.Expr) -> tuple[float, float] | None:
    """Recognise `F * (1 - O)` (either order) in a threshold, for a message in SLO terms."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if not isinstance(node, pp.BinaryExpr) or promql.op_name(node) != "*":
        return None
    for factor_side, budget_side in ((node.lhs, node.rhs), (node.rhs, node.lhs)):
        factor = promql.constant_value(factor_side)
        inner = budget_side
        while isinstance(inner, pp.ParenExpr):
            inner = inner.expr
        if factor is None or not isinstance(inner, pp.BinaryExpr) or promql.op_name(inner) != "-":
            continue
        one, objective = promql.constant_value(inner.lhs), promql.constant_value(inner.rhs)
        if one == 1.0 and objective is not None:
            return factor, objective
    return None


@lru_cache(maxsize=4096)
def _unreachable_thresholds(shape: str) -> tuple[tuple[float, str], ...]:
    """(threshold, explanation) for each comparison of an error ratio with a constant above 1."""
    parsed = promql.parse(shape)
    if parsed.expr is None:
        return ()
    out = []
    for node, _ in promql.walk(parsed.expr):
        found = _threshold(node)
        if found is None:
            continue
        value, const_side, other = found
        names = [promql.selector_name(vs) or "" for vs, _ in promql.selectors(other)]
        if not names or not all(any(w in n.lower() for w in _RATIO_WORDS) for n in names):
            continue
        if any("burn" in n.lower() for n in names) or value <= 1.0:
            continue
        fo = _factor_objective(const_side)
        why = f"burn factor {fo[0]:g} x error budget (1 - {fo[1]:g}) = {value:g}" if fo else f"threshold {value:g}"
        out.append((value, why))
    return tuple(out)


def check_burn_factor(rule: Rule, ctx: Context) -> Iterator[Finding]:
    if rule.kind != "alert" or rule.query is None:
        return
    for _, why in _unreachable_thresholds(promql.shape(rule.query.expr)):
        line, col = rule.query.location()
        yield finding(
            "alert/burn-factor-unreachable", rule.doc.path, line, col,
            f"alert {rule.name!r} compares an error ratio with {why} > 1: an error ratio never exceeds 1, so "
            "this alert can never fire; lower the factor or loosen the objective",
        )


def check_annotations(rule: Rule, ctx: Context) -> Iterator[Finding]:
    if rule.kind != "alert":
        return
    line, col = rule.location()
    if not rule.annotations.get("runbook_url", "").strip():
        yield finding(
            "alert/missing-runbook", rule.doc.path, line, col,
            f"alert {rule.name!r} has no runbook_url annotation: whoever is paged has nothing to follow",
        )
    if not rule.annotations.get("summary", "").strip():
        yield finding(
            "alert/missing-summary", rule.doc.path, line, col,
            f"alert {rule.name!r} has no summary annotation: notifications will say only the alert name",
        )


@lru_cache(maxsize=4096)
def _grouping_labels(shape: str) -> frozenset[str]:
    """The `by` labels of the outermost aggregation (through parentheses and a comparison with a
    constant); empty when there is none."""
    node = promql.parse(shape).expr
    while True:
        if isinstance(node, pp.ParenExpr):
            node = node.expr
        elif isinstance(node, pp.BinaryExpr) and promql.constant_value(node.rhs) is not None:
            node = node.lhs
        else:
            break
    if not isinstance(node, pp.AggregateExpr):
        return frozenset()
    g = promql.grouping(node)
    return g[1] if g is not None and g[0] == "by" else frozenset()


def check_label_override(rule: Rule, ctx: Context) -> Iterator[Finding]:
    """A static label that is also a grouping label makes distinct series identical: Prometheus
    then fails the whole rule ("vector contains metrics with the same labelset")."""
    if rule.query is None or not rule.labels:
        return
    clash = sorted(set(rule.labels) & _grouping_labels(promql.shape(rule.query.expr)))
    if clash:
        line, col = rule.location("labels")
        yield finding(
            "alert/label-collision", rule.doc.path, line, col,
            f"{rule.kind} {rule.name!r} sets label(s) {', '.join(clash)} that its expression groups by: series "
            "that differ only in them collide and Prometheus fails the rule; rename the static label",
        )


RuleCheck = Callable[[Rule, Context], Iterable[Finding]]
RULE_CHECKS: tuple[RuleCheck, ...] = (check_burn_factor, check_annotations, check_label_override)


def duplicate_alerts(rules: Iterable[Rule]) -> Iterator[Finding]:
    """Two alerts with one name and one label set in one file: Alertmanager sees one alert."""
    seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], Rule] = {}
    for rule in rules:
        if rule.kind != "alert":
            continue
        key = (rule.doc.path, rule.name, tuple(sorted(rule.labels.items())))
        first = seen.get(key)
        if first is None:
            seen[key] = rule
            continue
        line, col = rule.location()
        first_line = first.location()[0]
        yield finding(
            "alert/label-collision", rule.doc.path, line, col,
            f"alert {rule.name!r} has the same name and labels as the alert at line {first_line}: Alertmanager "
            "cannot tell them apart; add a distinguishing label (e.g. severity or window)",
        )
