"""Classify each loaded document and pull out its queries and rules."""

from __future__ import annotations

import json
import re
from typing import Any

from slo.lint import grafana
from slo.lint.loader import Document, EmbeddedDocument, Path_
from slo.lint.model import Query, Rule, Workspace

RULES, DASHBOARD, SPEC, OPENSLO, SLOTH, COLLECTOR, CONFIGMAP, UNKNOWN = (
    "rules", "dashboard", "spec", "openslo", "sloth", "collector", "configmap", "unknown",
)
_SLOTH_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def classify(doc: Document) -> str:
    data = doc.data
    if not isinstance(data, dict):
        return UNKNOWN
    api = data.get("apiVersion")
    if isinstance(api, str):
        if api.startswith("llmslo/"):
            return SPEC
        if api.startswith("openslo/"):
            return OPENSLO
        if data.get("kind") == "PrometheusRule":
            return RULES
        if data.get("kind") == "ConfigMap" and isinstance(data.get("data"), dict) and any(
            str(k).endswith(".json") for k in data["data"]
        ):
            return CONFIGMAP
    if isinstance(data.get("groups"), list):
        return RULES
    if data.get("version") == "prometheus/v1" and isinstance(data.get("slos"), list):
        return SLOTH
    if grafana.dashboard_root(data) is not None:
        return DASHBOARD
    if isinstance(data.get("service"), dict) and ("receivers" in data or "exporters" in data):
        return COLLECTOR
    return UNKNOWN


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def rule_groups(doc: Document) -> tuple[list[Any], Path_]:
    data = doc.data
    if data.get("kind") == "PrometheusRule":
        spec = data.get("spec")
        groups = spec.get("groups") if isinstance(spec, dict) else None
        return (groups if isinstance(groups, list) else []), ("spec", "groups")
    groups = data.get("groups")
    return (groups if isinstance(groups, list) else []), ("groups",)


def extract_rules(doc: Document, ws: Workspace) -> None:
    groups, base = rule_groups(doc)
    for g, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
            continue
        gname = _str(group.get("name"))
        for r, rule in enumerate(group["rules"]):
            if not isinstance(rule, dict):
                continue
            at: Path_ = (*base, g, "rules", r)
            kind = "alert" if "alert" in rule else "record" if "record" in rule else ""
            if not kind:
                continue
            name = str(rule.get(kind, ""))
            expr = rule.get("expr")
            query = None
            if isinstance(expr, str | int | float) and not isinstance(expr, bool):
                text = str(expr)
                query = Query(doc, (*at, "expr"), text, text, kind, name)
                ws.queries.append(query)
            ws.rules.append(
                Rule(doc, at, kind, name, gname, query, _str_map(rule.get("labels")), _str_map(rule.get("annotations")))
            )


def extract_dashboard(doc: Document, ws: Workspace) -> None:
    for origin, found in (
        ("panel", grafana.panel_queries(doc.data)),
        ("annotation", grafana.annotation_queries(doc.data)),
        ("template", grafana.template_queries(doc.data)),
    ):
        for at, raw, name in found:
            ws.queries.append(Query(doc, at, raw, raw, origin, name, grafana=True))


def extract_configmap(doc: Document, ws: Workspace) -> None:
    """Grafana dashboards provisioned through a ConfigMap (`data: {x.json: '<dashboard>'}`)."""
    for key, value in doc.data["data"].items():
        if not str(key).endswith(".json") or not isinstance(value, str):
            continue
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError):
            continue
        if grafana.dashboard_root(inner) is not None:
            embedded = EmbeddedDocument(doc.path, doc.text, inner, "json", anchor=doc.locate(("data", str(key))))
            extract_dashboard(embedded, ws)


def _spec_query(doc: Document, ws: Workspace, at: Path_, raw: Any, name: str) -> None:
    if isinstance(raw, str) and raw.strip():
        expr = _SLOTH_WINDOW.sub(grafana.RANGE_SUBSTITUTE, raw)
        ws.queries.append(Query(doc, at, expr, raw, "spec", name, range_vars=expr != raw))


def extract_sloth(doc: Document, ws: Workspace) -> None:
    for i, slo in enumerate(doc.data.get("slos") or []):
        if not isinstance(slo, dict) or not isinstance(slo.get("sli"), dict):
            continue
        name = _str(slo.get("name"))
        sli = slo["sli"]
        events = sli.get("events")
        if isinstance(events, dict):
            for key in ("error_query", "total_query"):
                _spec_query(doc, ws, ("slos", i, "sli", "events", key), events.get(key), name)
        raw = sli.get("raw")
        if isinstance(raw, dict):
            _spec_query(doc, ws, ("slos", i, "sli", "raw", "error_ratio_query"), raw.get("error_ratio_query"), name)


def extract_openslo(doc: Document, ws: Workspace) -> None:
    spec = doc.data.get("spec")
    if not isinstance(spec, dict):
        return
    name = _str((doc.data.get("metadata") or {}).get("name")) if isinstance(doc.data.get("metadata"), dict) else ""
    objectives = spec.get("objectives")
    for i, obj in enumerate(objectives if isinstance(objectives, list) else []):
        ratio = obj.get("ratioMetrics") if isinstance(obj, dict) else None
        if not isinstance(ratio, dict):
            continue
        for part in ("good", "bad", "total"):
            src = ratio.get(part)
            if isinstance(src, dict):
                query = src.get("query")
                if isinstance(src.get("metricSource"), dict):  # OpenSLO v1: metricSource.spec.query
                    inner = src["metricSource"].get("spec")
                    query = inner.get("query") if isinstance(inner, dict) else query
                    _spec_query(doc, ws, ("spec", "objectives", i, "ratioMetrics", part, "metricSource", "spec",
                                          "query"), query, name)
                    continue
                _spec_query(doc, ws, ("spec", "objectives", i, "ratioMetrics", part, "query"), query, name)


def extract_spec(doc: Document, ws: Workspace) -> None:
    """Raw `ratio` SLIs carry counter selectors (rates are taken per window by the generator)."""
    slos = doc.data.get("slos")
    for i, slo in enumerate(slos if isinstance(slos, list) else []):
        sli = slo.get("sli") if isinstance(slo, dict) else None
        if not isinstance(sli, dict) or sli.get("kind") != "ratio":
            continue
        for part in ("good", "bad", "total"):
            raw = sli.get(part)
            if isinstance(raw, str) and raw.strip():
                ws.queries.append(Query(doc, ("slos", i, "sli", part), raw, raw, "selector", _str(slo.get("name"))))


EXTRACTORS = {
    SPEC: extract_spec, RULES: extract_rules, DASHBOARD: extract_dashboard, SLOTH: extract_sloth,
    OPENSLO: extract_openslo, CONFIGMAP: extract_configmap,
}


def extract(doc: Document, ws: Workspace) -> str:
    kind = classify(doc)
    ws.documents.append(doc)
    ws.kinds[id(doc)] = kind
    extractor = EXTRACTORS.get(kind)
    if extractor is not None:
        extractor(doc, ws)
    return kind
