"""The checks, one module per group. Each check is a function with one subject (a query, a rule,
a spec or the whole workspace) that returns findings and never raises."""

from __future__ import annotations

from slo.lint.checks.alerts import RULE_CHECKS
from slo.lint.checks.metrics import check_metrics
from slo.lint.checks.promql_checks import QUERY_CHECKS as _PROMQL_CHECKS

QUERY_CHECKS = (check_metrics, *_PROMQL_CHECKS)

__all__ = ["QUERY_CHECKS", "RULE_CHECKS"]
