"""OpenSLO v1 input, translated into llmslo/v1 documents (alerting included, which Sloth drops).

Supported: `SLO` with an inline `indicator` or an `indicatorRef` to an `SLI` document, whose spec
is a `ratioMetric` (counters: good or bad over total, Prometheus queries that are vector
selectors) or a `thresholdMetric` on a catalog histogram (`op: lte|lt`, `value` = the threshold,
which must be a bucket boundary); one rolling `timeWindow`; `Occurrences` budgeting; each
objective becomes one SLO (named `<slo>-<objective displayName or index>` when there are several).
`alertPolicies` (inline or `alertPolicyRef` to `AlertPolicy` documents, whose conditions are
inline or `conditionRef` to `AlertCondition` documents) become the SLO's burn windows: each
`burnrate` condition is a pair with the condition's `lookbackWindow` as the long window, a short
window of 1/12 of it (the workbook's ratio) and `threshold` as the burn factor; severity page or
critical pages, anything else tickets. `alertWhenNoData` enables the no-data alert.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import promql_parser

from slo.catalog import CATALOG, Instrument
from slo.spec.durations import format_duration, parse_duration
from slo.spec.errors import Problem
from slo.spec.yamlpos import Document, Path, field_name

OPENSLO_V1 = "openslo/v1"
_PAGE_SEVERITIES = frozenset({"page", "critical", "high", "p1", "sev1"})
_HISTOGRAMS = {s.prom_name: s.key for s in CATALOG if s.instrument is Instrument.HISTOGRAM}


class _Bad(Exception):
    def __init__(self, doc: Document, path: Path, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(doc.file, doc.line_of(path), field_name(path), message)


def _get(doc: Document, data: Any, path: Path, key: str, kind: type | tuple[type, ...] = dict,
         required: bool = True) -> Any:
    if not isinstance(data, dict) or key not in data:
        if required:
            raise _Bad(doc, path, f"missing field {key!r}")
        return None
    value = data[key]
    if not isinstance(value, kind):
        raise _Bad(doc, (*path, key), f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def translate_openslo(docs: list[Document]) -> tuple[list[Document], list[Problem]]:
    """OpenSLO documents of one file -> llmslo/v1 documents (one per SLO) and problems."""
    named: dict[tuple[str, str], Document] = {}
    problems: list[Problem] = []
    for doc in docs:
        kind, name = doc.data.get("kind"), (doc.data.get("metadata") or {}).get("name")
        if isinstance(kind, str) and isinstance(name, str):
            named[(kind, name)] = doc
    out: list[Document] = []
    for doc in docs:
        kind = doc.data.get("kind")
        if kind == "SLO":
            try:
                out.append(_translate_slo(doc, named))
            except _Bad as exc:
                problems.append(exc.problem)
        elif kind not in ("SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "DataSource",
                          "Service"):
            problems.append(Problem(doc.file, doc.line_of(("kind",)), "kind", f"unsupported OpenSLO kind {kind!r}"))
    return out, problems


def _ref(named: dict[tuple[str, str], Document], doc: Document, path: Path, kind: str, name: Any) -> Document:
    target = named.get((kind, name)) if isinstance(name, str) else None
    if target is None:
        raise _Bad(doc, path, f"{kind} {name!r} is not defined in the same file")
    return target


def _translate_slo(doc: Document, named: dict[tuple[str, str], Document]) -> Document:
    data = doc.data
    meta = _get(doc, data, (), "metadata")
    name = _get(doc, meta, ("metadata",), "name", str)
    spec = _get(doc, data, (), "spec")
    sp: Path = ("spec",)
    budgeting = spec.get("budgetingMethod", "Occurrences")
    if budgeting != "Occurrences":
        raise _Bad(doc, (*sp, "budgetingMethod"), f"budgetingMethod {budgeting!r} is not supported; use Occurrences")
    # indicator
    if "indicator" in spec:
        sli_doc, sli_spec, sli_path = doc, _get(doc, spec["indicator"], (*sp, "indicator"), "spec"), (
            *sp, "indicator", "spec")
    elif "indicatorRef" in spec:
        sli_doc = _ref(named, doc, (*sp, "indicatorRef"), "SLI", spec["indicatorRef"])
        sli_spec, sli_path = _get(sli_doc, sli_doc.data, (), "spec"), ("spec",)
    else:
        raise _Bad(doc, sp, "missing field 'indicator' or 'indicatorRef'")
    # window
    windows = _get(doc, spec, sp, "timeWindow", list)
    if len(windows) != 1:
        raise _Bad(doc, (*sp, "timeWindow"), "exactly one timeWindow is supported")
    tw = windows[0]
    tw_path: Path = (*sp, "timeWindow", 0)
    if not isinstance(tw, dict) or tw.get("isRolling") is not True or "calendar" in tw:
        raise _Bad(doc, tw_path, "only rolling windows (isRolling: true) are supported")
    window = _duration(doc, (*tw_path, "duration"), _get(doc, tw, tw_path, "duration", str))
    # objectives
    objectives = _get(doc, spec, sp, "objectives", list)
    if not objectives:
        raise _Bad(doc, (*sp, "objectives"), "at least one objective is required")
    alerting = _alerting(doc, spec, named)
    slos: list[dict[str, Any]] = []
    lines: dict[Path, int] = {}
    for i, obj in enumerate(objectives):
        op: Path = (*sp, "objectives", i)
        if not isinstance(obj, dict):
            raise _Bad(doc, op, "an objective must be a mapping")
        if "target" in obj:
            target = obj["target"]
            if not isinstance(target, int | float) or isinstance(target, bool):
                raise _Bad(doc, (*op, "target"), "target must be a number in [0, 1)")
            percent = float(Decimal(repr(float(target))) * 100)
        elif "targetPercent" in obj:
            percent = obj["targetPercent"]
        else:
            raise _Bad(doc, op, "missing field 'target' or 'targetPercent'")
        sli = _indicator(sli_doc, sli_path, sli_spec, obj, doc, op)
        suffix = "" if len(objectives) == 1 else "-" + _slug(str(obj.get("displayName") or i))
        match = sli.pop("_match", {})
        slo: dict[str, Any] = {"name": f"{name}{suffix}", "sli": sli, "objective": percent, "window": window,
                               "description": spec.get("description", "")}
        if match:
            slo["match"] = match
        labels = _labels(meta.get("labels"))
        if spec.get("service"):
            labels["service"] = str(spec["service"])
        if labels:
            slo["labels"] = labels
        if alerting is not None:
            slo["alerting"] = alerting
        j = len(slos)
        slos.append(slo)
        lines[("slos", j)] = doc.line_of(())
        lines[("slos", j, "name")] = doc.line_of(("metadata", "name"))
        lines[("slos", j, "objective")] = doc.line_of(op)
        lines[("slos", j, "window")] = doc.line_of(tw_path)
        lines[("slos", j, "sli")] = sli_doc.line_of(sli_path)
        lines[("slos", j, "sli", "threshold")] = doc.line_of((*op, "value"))
        lines[("slos", j, "alerting")] = doc.line_of((*sp, "alertPolicies"))
    out = Document(doc.file, {"apiVersion": "llmslo/v1", "slos": slos}, lines)
    out.lines[()] = doc.line_of(())
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "objective"


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in value.items()}


def _duration(doc: Document, path: Path, text: str) -> str:
    try:
        parse_duration(text)
    except ValueError as exc:
        raise _Bad(doc, path, str(exc)) from None
    return text


def _query(doc: Document, path: Path, metric: Any) -> str:
    source = _get(doc, metric, path, "metricSource")
    src_path: Path = (*path, "metricSource")
    stype = source.get("type")
    if stype is not None and str(stype).lower() != "prometheus":
        raise _Bad(doc, (*src_path, "type"), f"metric source type {stype!r} is not supported; use Prometheus")
    query = _get(doc, _get(doc, source, src_path, "spec"), (*src_path, "spec"), "query", str)
    return str(query).strip()


def _selector(doc: Document, path: Path, query: str) -> promql_parser.VectorSelector:
    try:
        expr = promql_parser.parse(query)
    except Exception as exc:  # the parser raises plain exceptions with its message
        raise _Bad(doc, path, f"invalid PromQL: {exc}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise _Bad(doc, path, "the query must be a vector selector of a counter (rates are taken per window)")
    return expr


def _indicator(sdoc: Document, spath: Path, sspec: Any, objective: dict[str, Any], odoc: Document,
               opath: Path) -> dict[str, Any]:
    if "ratioMetric" in sspec:
        rp: Path = (*spath, "ratioMetric")
        ratio = _get(sdoc, sspec, spath, "ratioMetric")
        if ratio.get("counter") is not True:
            raise _Bad(sdoc, rp, "only counter ratio metrics (counter: true) are supported")
        if "raw" in ratio:
            raise _Bad(sdoc, (*rp, "raw"), "raw ratio metrics cannot be traffic-weighted; use good/bad and total")
        out: dict[str, Any] = {"kind": "ratio"}
        for part in ("good", "bad", "total"):
            if part in ratio:
                query = _query(sdoc, (*rp, part), ratio[part])
                _selector(sdoc, (*rp, part), query)
                out[part] = query
        return out
    if "thresholdMetric" in sspec:
        tp: Path = (*spath, "thresholdMetric")
        query = _query(sdoc, tp, _get(sdoc, sspec, spath, "thresholdMetric"))
        sel = _selector(sdoc, tp, query)
        base = sel.name.removesuffix("_bucket") if sel.name else ""
        key = _HISTOGRAMS.get(base)
        if key is None:
            raise _Bad(sdoc, tp, f"thresholdMetric {sel.name!r} is not a catalog histogram "
                                 f"({', '.join(sorted(_HISTOGRAMS))})")
        op = objective.get("op", "lte")
        if op not in ("lte", "lt"):
            raise _Bad(odoc, (*opath, "op"), f"op {op!r}: a latency objective counts values under the threshold "
                                             "(lte or lt)")
        if "value" not in objective:
            raise _Bad(odoc, opath, "missing field 'value' (the latency threshold)")
        match: dict[str, str] = {}
        for m in sel.matchers.matchers:
            if str(m.op) != "MatchOp.Equal":
                raise _Bad(sdoc, tp, f"matcher {m} must be an equality matcher")
            match[m.name] = m.value
        kind = "token_latency" if key in ("itl", "proxy_itl") else "latency"
        return {"kind": kind, "metric": key, "threshold": objective["value"], "_match": match}
    raise _Bad(sdoc, spath, "an SLI needs ratioMetric or thresholdMetric")


def _alerting(doc: Document, spec: dict[str, Any], named: dict[tuple[str, str], Document]) -> dict[str, Any] | None:
    policies = spec.get("alertPolicies")
    if not policies:
        return None
    windows: list[dict[str, Any]] = []
    no_data = False
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    targets: list[str] = []
    for i, entry in enumerate(policies):
        path: Path = ("spec", "alertPolicies", i)
        pdoc, pdata, ppath = _resolve(doc, path, entry, "AlertPolicy", "alertPolicyRef", named)
        pspec = _get(pdoc, pdata, ppath, "spec")
        no_data = no_data or bool(pspec.get("alertWhenNoData"))
        labels.update(_labels((pdata.get("metadata") or {}).get("labels")))
        if pspec.get("description"):
            annotations["description"] = str(pspec["description"])
        for t in pspec.get("notificationTargets") or []:
            if isinstance(t, dict):
                targets.append(str(t.get("targetRef") or (t.get("metadata") or {}).get("name") or ""))
        conditions = _get(pdoc, pspec, (*ppath, "spec"), "conditions", list)
        for j, cond in enumerate(conditions):
            cpath: Path = (*ppath, "spec", "conditions", j)
            cdoc, cdata, cp = _resolve(pdoc, cpath, cond, "AlertCondition", "conditionRef", named)
            windows.append(_window(cdoc, cp, _get(cdoc, cdata, cp, "spec")))
    if targets:
        annotations["notification_targets"] = ",".join(t for t in targets if t)
    alerting: dict[str, Any] = {
        "windows": windows,
        "reference_window": spec["timeWindow"][0]["duration"],
        "page": {"enabled": any(w["severity"] == "page" for w in windows)},
        "ticket": {"enabled": any(w["severity"] == "ticket" for w in windows)},
        "no_data": {"enabled": no_data},
    }
    if labels:
        alerting["labels"] = labels
    if annotations:
        alerting["annotations"] = annotations
    return alerting


def _resolve(doc: Document, path: Path, entry: Any, kind: str, ref_key: str,
             named: dict[tuple[str, str], Document]) -> tuple[Document, dict[str, Any], Path]:
    if isinstance(entry, dict) and ref_key in entry:
        target = _ref(named, doc, (*path, ref_key), kind, entry[ref_key])
        return target, target.data, ()
    if isinstance(entry, dict) and entry.get("kind", kind) == kind:
        return doc, entry, path
    raise _Bad(doc, path, f"expected an inline {kind} or {ref_key}")


_check: Callable[[str], int] = parse_duration


def _window(doc: Document, path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    cond = _get(doc, spec, (*path, "spec"), "condition")
    cp: Path = (*path, "spec", "condition")
    if cond.get("kind", "burnrate") != "burnrate":
        raise _Bad(doc, (*cp, "kind"), f"condition kind {cond.get('kind')!r} is not supported; use burnrate")
    if cond.get("op", "gte") not in ("gte", "gt"):
        raise _Bad(doc, (*cp, "op"), "a burn-rate condition must use op gte or gt")
    threshold = _get(doc, cond, cp, "threshold", (int, float))
    long_text = _duration(doc, (*cp, "lookbackWindow"), _get(doc, cond, cp, "lookbackWindow", str))
    long_s = _check(long_text)
    short_s = max(60, (long_s // 12) // 60 * 60)
    severity = str(spec.get("severity", "")).lower()
    return {"severity": "page" if severity in _PAGE_SEVERITIES else "ticket", "long": format_duration(long_s),
            "short": format_duration(short_s), "factor": float(threshold)}
