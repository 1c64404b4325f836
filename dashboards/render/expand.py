"""Expand Grafana template variables in a query, as Grafana would before sending it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def expand(expr: str, values: Mapping[str, str]) -> str:
    """Replace `$name` and `${name}` by `values[name]`; a variable without a value is an error."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(sub, expr)


def variable_defaults(board: Mapping[str, Any], rate_interval: str) -> dict[str, str]:
    """Values for every variable of `board` as a fresh page load would pick them: "All" is `.*`, a custom
    variable its default; `$__rate_interval` is `rate_interval` (Grafana derives it from the scrape
    interval; pick a window that holds several scrapes)."""
    values = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": rate_interval}
    for variable in board.get("templating", {}).get("list", []):
        name = variable["name"]
        current = variable.get("current", {}).get("value")
        if variable.get("type") == "datasource":
            values[name] = "prometheus"
        elif current in (None, "$__all", ["$__all"]):
            values[name] = variable.get("allValue") or ".*"
        else:
            values[name] = str(current)
    return values


def legend(template: str, labels: Mapping[str, str]) -> str:
    """A series' name from a Grafana legend format (`{{label}}`); `__auto` or empty gives the labels."""
    if template in ("", "__auto"):
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template).strip()
