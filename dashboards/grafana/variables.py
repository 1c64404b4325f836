"""Template variables: the datasource picker, label-value pickers and fixed choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grafanalib.core as gl

from dashboards.grafana.query import DATASOURCE_REF, DATASOURCE_VARIABLE

Variable = Any  # a grafanalib Template

ALL = "$__all"


def datasource(label: str = "Prometheus") -> Variable:
    """Pick any Prometheus-compatible datasource (Prometheus, Mimir, Thanos, VictoriaMetrics)."""
    return gl.Template(name=DATASOURCE_VARIABLE, label=label, query="prometheus", type="datasource",
                       includeAll=False, multi=False, refresh=gl.REFRESH_ON_DASHBOARD_LOAD, default=None)


def label_values(name: str, label: str, series: str, title: str, *, multi: bool = True) -> Variable:
    """A picker over the values of `label` on `series` (a selector that may use earlier variables).

    With "All" selected the variable expands to `.*`, so selectors use `=~"$name"`.
    """
    return gl.Template(
        name=name, label=title, query=f"label_values({series}, {label})", type="query",
        dataSource=dict(DATASOURCE_REF), includeAll=True, allValue=".*", multi=multi, default=ALL,
        refresh=gl.REFRESH_ON_TIME_RANGE_CHANGE, sort=gl.SORT_ALPHA_ASC,
    )


def custom(name: str, title: str, choices: Sequence[str], default: str) -> Variable:
    """A fixed list of choices (a top-k size, a quantile)."""
    if default not in choices:
        raise ValueError(f"variable {name!r}: default {default!r} is not one of {list(choices)}")
    return gl.Template(name=name, label=title, query=",".join(choices), type="custom", default=default,
                       includeAll=False, multi=False)


def references(expr: str, names: Sequence[str]) -> set[str]:
    """The variables of `names` that `expr` uses, as `$name` or `${name}`."""
    return {n for n in names if f"${n}" in expr or "${" + n + "}" in expr}
