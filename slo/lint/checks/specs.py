"""spec/*, slo/threshold-off-bucket and alert/tenant-cardinality: SLO specs that load but cannot
work (an objective of 100 %, a window Prometheus does not keep, a threshold between buckets, burn
factors that can never fire, a per-tenant series explosion).

These read the raw document (so every finding has a line even when the spec does not load); the
schema itself is checked by slo.spec's loader (`schema_findings` below), and the threshold by
slo.spec's shared `check_threshold`, never re-implemented here."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

from slo.catalog import BY_KEY, Fidelity, SourceKind, Vantage
from slo.catalog import boundaries as b
from slo.catalog.versions import Version, format_version, parse_version
from slo.lint import extract as ex
from slo.lint.context import Context, finding
from slo.lint.durations import format_duration, parse_duration
from slo.lint.findings import Finding
from slo.lint.loader import Document, Path_
from slo.lint.model import Workspace
from slo.rules.windows import default_table
from slo.spec import load_specs
from slo.spec.errors import SpecError, ThresholdError
from slo.spec.threshold import check_threshold

# Assumed distinct values per label when estimating series counts (tenant: top 20 plus `other`).
LABEL_CARDINALITY: Mapping[str, int] = {
    "tenant": 21, "model": 10, "model_name": 10, "engine": 8, "namespace": 10, "pod": 100, "outcome": 5,
}
DEFAULT_LABEL_CARDINALITY = 100
SERIES_PER_GROUP = 16  # good and total rates for each of the ~8 windows a burn-rate SLO records


# vLLM's default histogram boundaries per family (slo.catalog.boundaries, from vLLM's buckets.py);
# V0 engines up to 0.6 shipped shorter lists.
_VLLM_V0_UNTIL = parse_version("0.7.0")
_ENGINE_BOUNDARIES: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "vllm:time_to_first_token_seconds": (b.VLLM_TTFT, b.VLLM_V0_TTFT),
    "vllm:request_time_per_output_token_seconds": (b.VLLM_INTER_TOKEN_LATENCY, b.VLLM_V0_TPOT),
    "vllm:inter_token_latency_seconds": (b.VLLM_INTER_TOKEN_LATENCY, b.VLLM_V0_TPOT),
    "vllm:time_per_output_token_seconds": (b.VLLM_INTER_TOKEN_LATENCY, b.VLLM_V0_TPOT),
    "vllm:e2e_request_latency_seconds": (b.VLLM_REQUEST_LATENCY, b.VLLM_V0_E2E),
    "vllm:request_queue_time_seconds": (b.VLLM_REQUEST_LATENCY, b.VLLM_REQUEST_LATENCY),
    "vllm:request_prefill_time_seconds": (b.VLLM_REQUEST_LATENCY, b.VLLM_REQUEST_LATENCY),
    "vllm:request_decode_time_seconds": (b.VLLM_REQUEST_LATENCY, b.VLLM_REQUEST_LATENCY),
    "vllm:request_inference_time_seconds": (b.VLLM_REQUEST_LATENCY, b.VLLM_REQUEST_LATENCY),
}


def engine_boundary_problem(sli_key: str, threshold: float, version: Version) -> str | None:
    """Why a threshold on llmslo's canonical grid is still not exact for the declared vLLM: the
    engine's own histogram (which the sidecar re-buckets) has no boundary there."""
    sli = BY_KEY.get(sli_key)
    if sli is None or sli.vantage is not Vantage.ENGINE:
        return None
    for src in sli.sources_of(SourceKind.VLLM):
        if not src.versions.contains(version) or src.fidelity is Fidelity.UNAVAILABLE:
            continue
        lists = _ENGINE_BOUNDARIES.get(src.metric)
        if lists is None:
            return None
        bounds = lists[1] if version < _VLLM_V0_UNTIL else lists[0]
        if any(math.isclose(x, threshold, rel_tol=1e-9) for x in bounds):
            return None
        below = max((x for x in bounds if x < threshold), default=None)
        above = min((x for x in bounds if x > threshold), default=None)
        near = " or ".join(f"{x:g} s" for x in (below, above) if x is not None)
        return (
            f"threshold {threshold:g} s is on llmslo's grid but vLLM {format_version(version)}'s {src.metric} "
            f"has no {threshold:g} boundary, so the engine SLI merges it into the next bucket up and the SLO "
            f"is not exact; use {near} (or give vLLM 0.32+ that boundary with --custom-histogram-buckets)"
        )
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _window_seconds(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _slo_checks(doc: Document, slo: dict[str, Any], at: Path_, ctx: Context) -> Iterator[Finding]:
    raw_name = slo.get("name")
    name = raw_name if isinstance(raw_name, str) else f"slos[{at[-1]}]"

    def here(*key: str | int) -> tuple[int, int]:
        return doc.locate((*at, *key))

    objective = _number(slo.get("objective"))
    if "objective" in slo and (objective is None or not 0 < objective < 100):
        yield finding(
            "spec/objective-range", doc.path, *here("objective"),
            f"SLO {name!r}: objective {slo.get('objective')!r} must be a percentage strictly between 0 and 100 "
            "(100 leaves no error budget: every alert fires on the first error)",
        )
        objective = None
    window = slo.get("window", "28d")
    window_s = _window_seconds(window)
    if window_s is not None and window_s > ctx.config.retention_s:
        yield finding(
            "spec/window-retention", doc.path, *here("window"),
            f"SLO {name!r}: window {window} is longer than the {format_duration(ctx.config.retention_s)} of "
            "metrics Prometheus keeps, so its budget is computed over less data than it says; raise "
            "--storage.tsdb.retention.time, use long-term storage, or set `retention:` in .slo-lint.yaml",
        )
    sli = slo.get("sli")
    if isinstance(sli, dict):
        metric = sli.get("metric")
        if isinstance(metric, str) and metric not in BY_KEY:
            yield finding(
                "spec/unknown-sli", doc.path, *here("sli", "metric"),
                f"SLO {name!r}: unknown SLI {metric!r}; known: {', '.join(sorted(BY_KEY))}",
            )
        elif isinstance(metric, str) or sli.get("kind") in ("latency", "token_latency"):
            threshold = _number(sli.get("threshold"))
            key = metric if isinstance(metric, str) else ("itl" if sli.get("kind") == "token_latency" else "ttft")
            if threshold is not None:
                try:
                    check_threshold(key, threshold)
                except ThresholdError as exc:
                    yield finding("slo/threshold-off-bucket", doc.path, *here("sli", "threshold"),
                                  f"SLO {name!r}: {exc}")
                else:
                    problem = engine_boundary_problem(key, threshold, ctx.config.vllm_version)
                    if problem:
                        yield finding("slo/threshold-off-bucket", doc.path, *here("sli", "threshold"),
                                      f"SLO {name!r}: {problem}")
    if objective is not None and window_s is not None:
        yield from _burn_checks(doc, slo, at, name, objective, window_s)
    by = slo.get("by")
    if isinstance(by, list) and "tenant" in by:
        estimate = SERIES_PER_GROUP
        for label in by:
            estimate *= LABEL_CARDINALITY.get(str(label), DEFAULT_LABEL_CARDINALITY)
        if estimate > ctx.config.cardinality_limit:
            yield finding(
                "alert/tenant-cardinality", doc.path, *here("by"),
                f"SLO {name!r}: grouping by {', '.join(map(str, by))} is estimated at {estimate} series "
                f"(tenant top-20 + other, {SERIES_PER_GROUP} recording-rule series per group), over the limit of "
                f"{ctx.config.cardinality_limit}; drop a label or raise cardinality-limit",
            )


def _burn_checks(
    doc: Document, slo: dict[str, Any], at: Path_, name: str, objective: float, window_s: float
) -> Iterator[Finding]:
    raw_alerting = slo.get("alerting")
    alerting: dict[str, Any] = raw_alerting if isinstance(raw_alerting, dict) else {}
    # The windows slo.rules uses when a spec sets none (SRE workbook table 5-8), from the same table.
    defaults, default_reference = default_table()
    reference_s = _window_seconds(alerting.get("reference_window", default_reference)) or 30 * 86400.0
    budget = 1 - objective / 100
    raw = alerting.get("windows")
    pairs: list[tuple[Path_, str, float]] = []
    if isinstance(raw, list):
        for i, w in enumerate(raw):
            factor = _number(w.get("factor")) if isinstance(w, dict) else None
            if factor is not None:
                pairs.append(((*at, "alerting", "windows", i, "factor"), f"{w.get('long')}/{w.get('short')}",
                              factor))
    else:
        pairs = [((*at, "objective"), f"{w.long}/{w.short} (default)", w.factor) for w in defaults]
    for path, label, factor in pairs:
        scaled = factor * window_s / reference_s
        if scaled * budget > 1:
            yield finding(
                "alert/burn-factor-unreachable", doc.path, *doc.locate(path),
                f"SLO {name!r}: burn factor {factor:g} ({scaled:.3g} scaled to the {format_duration(window_s)} "
                f"window) x error budget {budget:.3g} = {scaled * budget:.3g} > 1 for the {label} pair: the error "
                "ratio would have to exceed 100 %, so this alert can never fire; lower the factor or the objective",
            )


def _openslo_checks(doc: Document, ctx: Context) -> Iterator[Finding]:
    spec = doc.data.get("spec")
    if not isinstance(spec, dict):
        return
    objectives = spec.get("objectives")
    for i, obj in enumerate(objectives if isinstance(objectives, list) else []):
        target = _number(obj.get("target")) if isinstance(obj, dict) else None
        if isinstance(obj, dict) and "target" in obj and (target is None or not 0 < target < 1):
            yield finding(
                "spec/objective-range", doc.path, *doc.locate(("spec", "objectives", i, "target")),
                f"OpenSLO target {obj.get('target')!r} must be a ratio strictly between 0 and 1",
            )
    windows = spec.get("timeWindows") or spec.get("timeWindow")
    for i, w in enumerate(windows if isinstance(windows, list) else []):
        if not isinstance(w, dict):
            continue
        duration = w.get("duration")
        if duration is None and isinstance(w.get("count"), int) and isinstance(w.get("unit"), str):
            unit = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w"}.get(w["unit"].lower())
            duration = f"{w['count']}{unit}" if unit else None
        seconds = _window_seconds(duration)
        if seconds is not None and seconds > ctx.config.retention_s:
            yield finding(
                "spec/window-retention", doc.path, *doc.locate(("spec", "timeWindows", i)),
                f"window {duration} is longer than the {format_duration(ctx.config.retention_s)} of metrics "
                "Prometheus keeps; set `retention:` in .slo-lint.yaml if yours keeps more",
            )


def schema_findings(already: Mapping[str, set[int]]) -> Iterator[Finding]:
    """Every problem slo.spec's loader reports, as spec/schema, except on lines where a more
    specific check already reported. Spec files of one folder are loaded together (that is how
    generators are pointed at them), so duplicate SLO names within a folder are caught too."""
    if not already:
        return
    by_norm = {os.path.normpath(p): p for p in already}
    folders: dict[str, list[str]] = {}
    for path in sorted(already):
        folders.setdefault(os.path.dirname(os.path.normpath(path)), []).append(path)
    for paths in folders.values():
        try:
            load_specs(paths)
        except SpecError as exc:
            for p in exc.problems:
                path = by_norm.get(os.path.normpath(p.file), p.file)
                if p.line in already.get(path, ()):
                    continue
                field = f"{p.field}: " if p.field else ""
                yield finding("spec/schema", path, max(p.line, 1), 1, f"{field}{p.message}")


def check_specs(ws: Workspace, ctx: Context) -> Iterator[Finding]:
    spec_files: dict[str, set[int]] = {}
    for doc in ws.documents:
        kind = ws.kind(doc)
        if kind == ex.SPEC:
            lines = spec_files.setdefault(doc.path, set())
            slos = doc.data.get("slos")
            for i, slo in enumerate(slos if isinstance(slos, list) else []):
                if isinstance(slo, dict):
                    for f in _slo_checks(doc, slo, ("slos", i), ctx):
                        lines.add(f.line)
                        yield f
        elif kind == ex.OPENSLO:
            spec_files.setdefault(doc.path, set())
            yield from _openslo_checks(doc, ctx)
    yield from schema_findings(spec_files)
