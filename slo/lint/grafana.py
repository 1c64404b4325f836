"""Grafana dashboards: find every PromQL query (panels, nested rows, library-free targets,
annotations, templating) and make Grafana's `$variables` parse as PromQL.

Variables inside quoted strings are left alone (`model_name="$model"` is valid PromQL); a range
variable becomes a duration, a numeric parameter becomes 1, anything else an identifier with the
`grafana_var_` prefix that the metric checks skip."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from slo.lint.loader import Path_

_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]")
_NUMERIC_VARS = {"__range_s", "__range_ms", "__interval_ms", "__rate_interval_ms"}
RANGE_SUBSTITUTE = "5m"
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*$")
_NUMERIC_CONTEXT = re.compile(
    r"(\b(topk|bottomk|quantile|histogram_quantile|limitk|limit_ratio|vector|quantile_over_time)\s*\(|"
    r"[,><=*/+\-^%]|\bbool)$"
)


_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|\'(?:[^\'\\\n]|\\.)*\'?|`[^`]*`?|#[^\n]*')


def _segments(expr: str) -> Iterator[tuple[bool, str]]:
    """(inside a string or comment, text) pieces of an expression."""
    last = 0
    for m in _TOKENS.finditer(expr):
        if m.start() > last:
            yield False, expr[last : m.start()]
        yield True, m.group(0)
        last = m.end()
    if last < len(expr):
        yield False, expr[last:]


def substitute(expr: str) -> tuple[str, bool]:
    """The expression with variables replaced, and whether a range came from a variable."""
    if "$" not in expr and "[[" not in expr:
        return expr, False
    out: list[str] = []
    range_vars = False
    for quoted, text in _segments(expr):
        if quoted or ("$" not in text and "[[" not in text):
            out.append(text)
            continue
        last = 0
        for m in _VAR.finditer(text):
            name = m.group(1) or m.group(2) or m.group(3)
            out.append(text[last : m.start()])
            # what precedes the variable decides what it stands for; 80 characters are plenty
            before = "".join(out[-4:])[-80:].rstrip()
            if before.endswith(("[", ":")):
                out.append(RANGE_SUBSTITUTE)
                range_vars = True
            elif _LABEL_LIST.search(before):
                out.append(name)
            elif name in _NUMERIC_VARS or _NUMERIC_CONTEXT.search(before):
                out.append("1")
            else:
                out.append(f"grafana_var_{name}")
            last = m.end()
        out.append(text[last:])
    return "".join(out), range_vars


def _is_prometheus(datasource: Any, default: bool = True) -> bool:
    if isinstance(datasource, dict):
        kind = datasource.get("type")
        if isinstance(kind, str):
            return kind in ("prometheus", "datasource") or "prometheus" in kind or kind.startswith("$")
        return default
    if isinstance(datasource, str):
        lowered = datasource.lower()
        return not any(k in lowered for k in ("loki", "tempo", "elasticsearch", "influx", "graphite", "mysql"))
    return default


def _panels(panels: Any, path: Path_) -> Iterator[tuple[dict[str, Any], Path_]]:
    if not isinstance(panels, list):
        return
    for i, panel in enumerate(panels):
        if not isinstance(panel, dict):
            continue
        here = (*path, i)
        yield panel, here
        yield from _panels(panel.get("panels"), (*here, "panels"))


def dashboard_root(data: Any) -> tuple[dict[str, Any], Path_] | None:
    """The dashboard object of a Grafana JSON model, or of an export/API wrapper around one."""
    if not isinstance(data, dict):
        return None
    inner = data.get("dashboard")
    if isinstance(inner, dict) and ("panels" in inner or "rows" in inner):
        return inner, ("dashboard",)
    if isinstance(data.get("panels"), list) or isinstance(data.get("rows"), list):
        return data, ()
    return None


def panel_queries(data: Any) -> Iterator[tuple[Path_, str, str]]:
    """(path of the expr, expr text, panel title) for every Prometheus target."""
    root = dashboard_root(data)
    if root is None:
        return
    dash, base = root
    sources: list[tuple[Any, Path_]] = [(dash.get("panels"), (*base, "panels"))]
    rows = dash.get("rows")
    if isinstance(rows, list):
        for r, row in enumerate(rows):
            if isinstance(row, dict):
                sources.append((row.get("panels"), (*base, "rows", r, "panels")))
    for panels, path in sources:
        for panel, at in _panels(panels, path):
            targets = panel.get("targets")
            if not isinstance(targets, list) or not _is_prometheus(panel.get("datasource")):
                continue
            title = panel.get("title") if isinstance(panel.get("title"), str) else ""
            for t, target in enumerate(targets):
                if not isinstance(target, dict) or not isinstance(target.get("expr"), str):
                    continue
                if not _is_prometheus(target.get("datasource")) or not target["expr"].strip():
                    continue
                yield (*at, "targets", t, "expr"), target["expr"], str(title)


def annotation_queries(data: Any) -> Iterator[tuple[Path_, str, str]]:
    root = dashboard_root(data)
    if root is None:
        return
    dash, base = root
    ann = dash.get("annotations")
    items = ann.get("list") if isinstance(ann, dict) else None
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if (
            isinstance(item, dict) and isinstance(item.get("expr"), str) and item["expr"].strip()
            and _is_prometheus(item.get("datasource"))
        ):
            yield (*base, "annotations", "list", i, "expr"), item["expr"], str(item.get("name", ""))


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.+)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(.+)\s*\)\s*$", re.S)


def template_queries(data: Any) -> Iterator[tuple[Path_, str, str]]:
    """The PromQL inside `label_values(<selector>, label)` and `query_result(<expr>)` variables."""
    root = dashboard_root(data)
    if root is None:
        return
    dash, base = root
    templ = dash.get("templating")
    items = templ.get("list") if isinstance(templ, dict) else None
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "query":
            continue
        query = item.get("query")
        at: Path_ = (*base, "templating", "list", i, "query")
        if isinstance(query, dict):
            query = query.get("query")
            at = (*at, "query")
        if not isinstance(query, str):
            continue
        m = _LABEL_VALUES.match(query) or _QUERY_RESULT.match(query)
        if m:
            yield at, m.group(1), str(item.get("name", ""))
