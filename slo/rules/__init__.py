"""SLO rule generation: specs to Prometheus recording rules, burn-rate alerts and promtool tests.

`generate(slos) -> list[Group]` is the pure core; `plan(slos) -> {path: text}` renders every output
file (rule files, PrometheusRules, promtool tests); `slo.rules.conventions` owns every generated
name and label (documented in docs/rules.md).
"""

from __future__ import annotations

from slo.rules.generate import EmptyResultError, alert_name, generate, windows_of
from slo.rules.model import Group, Rule
from slo.rules.output import plan, write
from slo.rules.windows import Pair, pairs_for

__all__ = [
    "EmptyResultError",
    "Group",
    "Pair",
    "Rule",
    "alert_name",
    "generate",
    "pairs_for",
    "plan",
    "windows_of",
    "write",
]
