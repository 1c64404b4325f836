"""PromQL for each SLI kind: the bad and total event rates over a window, aggregated by the SLO's
grouping labels.

Event kinds (latency, token_latency, availability, goodput, ratio) count requests, tokens or
counter increments; their error ratio over a window is bad / total. Time-slice kinds (cache_hit,
throughput) turn each evaluation into one slice: `total` is 1 when the slice counts (there was
traffic), `bad` is 1 when the floor was missed, so window ratios are shares of slices.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.catalog import BY_KEY
from slo.metrics.write import format_float, le_matcher
from slo.spec import Instance, format_duration

PROXY_FAILURES = ("engine_error", "midstream_failure")


@dataclass(frozen=True, slots=True)
class EventExprs:
    """bad and total rates over `window`; `bad` is never missing where `total` exists and is always
    parenthesised, so it can be divided as is."""

    bad: str
    total: str



def _sum_rate(inst: Instance, selector: str, window: str) -> str:
    return f"{inst.by_clause} (rate({selector}[{window}]))"


def _or_zero(bad: str, total: str) -> str:
    return f"({bad} or 0 * {total})"


def _alternation(values: tuple[str, ...]) -> str:
    return "|".join(values)


def event_exprs(inst: Instance, window_s: int) -> EventExprs:
    """Bad and total rates for an event SLI over a window."""
    w = format_duration(window_s)
    sli = inst.slo.sli
    if sli.kind in ("latency", "token_latency"):
        name = BY_KEY[sli.metric].prom_name
        total = _sum_rate(inst, inst.selector(f"{name}_count"), w)
        good = _sum_rate(inst, inst.selector(f"{name}_bucket", le_matcher(sli.threshold)), w)
        return EventExprs(f"({total} - {good})", total)
    if sli.kind == "availability":
        if sli.source == "proxy":
            name = BY_KEY["proxy_requests"].prom_name
            failures: tuple[str, ...] = PROXY_FAILURES + (("rejected",) if sli.rejected_are_failures else ())
            counted = ("success", *failures)
        else:
            name = BY_KEY["requests"].prom_name
            failures = ("error", "abort") if sli.aborts_are_failures else ("error",)
            counted = ("success", *failures)
        total = _sum_rate(inst, inst.selector(name, f'outcome=~"{_alternation(counted)}"'), w)
        bad = _sum_rate(inst, inst.selector(name, f'outcome=~"{_alternation(failures)}"'), w)
        return EventExprs(_or_zero(bad, total), total)
    if sli.kind == "goodput":
        name = BY_KEY["goodput"].prom_name
        slo_m = f'slo="{inst.slo.name}"'
        total = _sum_rate(inst, inst.selector(name, slo_m, 'goodput=~"met|missed"'), w)
        bad = _sum_rate(inst, inst.selector(name, slo_m, 'goodput="missed"'), w)
        return EventExprs(_or_zero(bad, total), total)
    if sli.kind == "ratio":
        total = _sum_rate(inst, sli.total, w)
        if sli.bad is not None:
            return EventExprs(_or_zero(_sum_rate(inst, sli.bad, w), total), total)
        assert sli.good is not None
        return EventExprs(f"({total} - {_sum_rate(inst, sli.good, w)})", total)
    raise ValueError(f"{sli.kind} is a time-slice SLI, not an event SLI")


def timeslice_exprs(inst: Instance, window_s: int) -> EventExprs:
    """One slice per evaluation: total = 1 when the slice counts, bad = 1 when the floor was missed."""
    w = format_duration(window_s)
    sli = inst.slo.sli
    if sli.kind == "cache_hit":
        hits = _sum_rate(inst, inst.selector(BY_KEY["prefix_cache_hits"].prom_name), w)
        queries = _sum_rate(inst, inst.selector(BY_KEY["prefix_cache_queries"].prom_name), w)
        counts = f"({queries} > bool 0)"
        return EventExprs(f"({hits} / {queries} < bool {format_float(sli.floor)}) * {counts}", counts)
    if sli.kind == "throughput":
        tokens = _sum_rate(inst, inst.selector(BY_KEY["output_tokens"].prom_name), w)
        running = BY_KEY["requests_running"].prom_name
        busy = f"({inst.by_clause} (max_over_time({inst.selector(running)}[{w}])) > bool 0)"
        return EventExprs(f"({tokens} < bool {format_float(sli.floor)}) * {busy}", busy)
    raise ValueError(f"{sli.kind} is not a time-slice SLI")
