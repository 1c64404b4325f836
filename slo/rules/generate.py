"""SLO -> one rule group: SLI recording rules, metadata rules and burn-rate alerts.

Shape (per SLO, fewer rules than Sloth's 17 and cheaper to evaluate):

* `llmslo_slo:bad:rate5m`, `llmslo_slo:events:rate5m`: the only rules that read the source
  histograms/counters at the base window.
* `llmslo_slo:error:ratio_rate<w>` for every alert window. Windows up to 1h are computed from the
  source (a total outage must page within minutes and a page must clear one short window after
  recovery); longer windows are `sum_over_time` of the two 5m rates over `w - 5m`, which covers
  exactly the last `w` (trapezoid-weighted at the edges) and is traffic-weighted, reading one
  aggregated series instead of every bucket of every pod.
* `llmslo_slo:error:ratio_period`: the same derivation over the SLO window (not Sloth's average
  of 5m ratios, which over-weights quiet periods).
* `llmslo_slo:objective:ratio` and `llmslo_slo:error_budget_remaining:ratio`.
* alerts: one per tier (page, ticket), an OR of that tier's window pairs, each pair requiring both
  windows to burn at >= its factor and, when `min_traffic` is set, enough traffic over the long
  window; and a no-data alert on the base series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from slo.rules import conventions as cv
from slo.rules.model import Group, Rule
from slo.rules.sli import event_exprs, timeslice_exprs
from slo.rules.windows import Pair, pairs_for
from slo.spec import SLO, Instance, expand, format_duration
from slo.spec.errors import Problem, SpecError


class EmptyResultError(SpecError):
    """Generation produced no rules: almost always a wrong path or a spec with nothing enabled."""


def _dec(value: object) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sel(name: str, slo: str) -> str:
    return f'{name}{{{cv.SLO_LABEL}="{slo}"}}'


def generate(slos: Sequence[SLO]) -> list[Group]:
    """One group per SLO, sorted by SLO name; raises EmptyResultError when there is nothing to emit."""
    groups = [g for slo in slos for inst in expand(slo) for g in [_group(inst)]]
    groups.sort(key=lambda g: g.name)
    if not groups or not any(g.rules for g in groups):
        raise EmptyResultError([Problem("", 0, "", "no rules generated: no SLOs given")])
    return groups


def windows_of(slo: SLO, pairs: Sequence[Pair] | None = None) -> list[int]:
    """Every window an alert pair reads, ascending, always including the base window."""
    pairs = pairs_for(slo) if pairs is None else pairs
    return sorted({cv.BASE_WINDOW_S, *(p.short_s for p in pairs), *(p.long_s for p in pairs)})


def _group(inst: Instance) -> Group:
    slo = inst.slo
    common = (*sorted(slo.labels.items()), (cv.SLO_LABEL, slo.name))
    rules: list[Rule] = []
    exprs = timeslice_exprs if slo.timeslice else event_exprs
    base = exprs(inst, cv.BASE_WINDOW_S)
    rules.append(Rule(base.bad, record=cv.bad_rate(), labels=common))
    rules.append(Rule(base.total, record=cv.events_rate(), labels=common))
    bad, events = _sel(cv.bad_rate(), slo.name), _sel(cv.events_rate(), slo.name)
    pairs = pairs_for(slo)
    for w in windows_of(slo, pairs):
        if w == cv.BASE_WINDOW_S:
            expr = f"{bad}\n/\n{events}"
        elif w <= cv.RAW_MAX_S and not slo.timeslice:
            raw = exprs(inst, w)
            expr = f"{raw.bad}\n/\n{raw.total}"
        else:
            expr = _derived(bad, events, w)
        rules.append(Rule(expr, record=cv.error_ratio(w), labels=common))
    rules.append(Rule(_derived(bad, events, slo.window_seconds), record=cv.ERROR_RATIO_PERIOD, labels=common))
    meta = (*common, (cv.KIND_LABEL, slo.sli.kind), (cv.WINDOW_LABEL, slo.window))
    rules.append(Rule(f"vector({_dec(slo.objective_ratio)})", record=cv.OBJECTIVE, labels=tuple(sorted(meta))))
    rules.append(Rule(f"1 - {_sel(cv.ERROR_RATIO_PERIOD, slo.name)} / {_dec(slo.error_budget)}",
                      record=cv.BUDGET_REMAINING, labels=common))
    rules.extend(_alerts(slo, common, pairs))
    source = slo.origin.file if slo.origin else ""
    return Group(cv.group_name(slo.name), slo.name, source, tuple(rules))


def _derived(bad: str, events: str, window_s: int) -> str:
    r = format_duration(window_s - cv.BASE_WINDOW_S)
    return f"sum_over_time({bad}[{r}])\n/\nsum_over_time({events}[{r}])"


def _pair_expr(slo: SLO, pair: Pair, min_rate: float | None) -> str:
    threshold = f"({_dec(pair.threshold(slo.error_budget))} - {cv.TOLERANCE})"
    lines = [
        f"{_sel(cv.error_ratio(pair.short_s), slo.name)} >= {threshold}",
        f"{_sel(cv.error_ratio(pair.long_s), slo.name)} >= {threshold}",
    ]
    if min_rate is not None and min_rate > 0:
        events = _sel(cv.events_rate(), slo.name)
        if pair.long_s > cv.BASE_WINDOW_S:
            r = format_duration(pair.long_s - cv.BASE_WINDOW_S)
            events = f"avg_over_time({events}[{r}])"
        # A long window no longer than the base window (seconds-scale windows, as in a demo) reads the
        # base rate itself: traffic over the last 5m, a superset of the long window.
        lines.append(f"{events} >= {_rate_text(min_rate)}")
    return "(\n  " + "\nand\n  ".join(lines) + "\n)"


def _rate_text(rate: float) -> str:
    return f"{rate:.12g}"


def alert_name(slo: SLO, severity: str) -> str:
    """`<alerting.name>Page` / `<alerting.name>Ticket`: one name per tier, so routing, inhibition and
    promtool tests can tell them apart without parsing labels."""
    return f"{slo.alerting.name}{severity.capitalize()}"


def alert_annotations(slo: SLO, severity: str, tier_pairs: Sequence[Pair]) -> tuple[tuple[str, str], ...]:
    al = slo.alerting
    tier = al.page if severity == "page" else al.ticket
    desc = ", ".join(f"{format_duration(p.long_s)}/{format_duration(p.short_s)} at {_dec(p.factor)}x"
                     for p in tier_pairs)
    annotations = {
        "summary": f"SLO {slo.name}: error budget burning too fast ({severity})",
        "description": (f"{slo.name} ({slo.objective}% over {slo.window}) is burning its error budget at or "
                        f"above {desc} (long/short window at burn factor)."),
        **({"runbook_url": al.runbook_url} if al.runbook_url else {}),
        **al.annotations,
        **tier.annotations,
    }
    return tuple(sorted(annotations.items()))


def _alerts(slo: SLO, common: tuple[tuple[str, str], ...], pairs: Sequence[Pair]) -> Iterable[Rule]:
    al = slo.alerting
    for severity, tier in (("page", al.page), ("ticket", al.ticket)):
        tier_pairs = [p for p in pairs if p.severity == severity]
        if not tier.enabled or not tier_pairs:
            continue
        min_rate = slo.min_rate
        expr = "\nor\n".join(_pair_expr(slo, p, min_rate) for p in tier_pairs)
        labels = {**dict(common), cv.SEVERITY_LABEL: severity, **al.labels, **tier.labels}
        yield Rule(expr, alert=alert_name(slo, severity), labels=tuple(sorted(labels.items())),
                   annotations=alert_annotations(slo, severity, tier_pairs))
    nd = al.no_data
    if nd.enabled:
        labels = {**dict(common), cv.SEVERITY_LABEL: nd.severity, **al.labels, **nd.labels}
        annotations = {
            "summary": f"SLO {slo.name}: no SLI data",
            "description": (f"No {cv.events_rate()} series for {slo.name} for {nd.for_}: the exporter is down, "
                            "the metric was renamed or the selector matches nothing, so the SLO is blind."),
            **({"runbook_url": al.runbook_url} if al.runbook_url else {}),
        }
        yield Rule(f"absent({_sel(cv.events_rate(), slo.name)})", alert=nd.name, for_=nd.for_,
                   labels=tuple(sorted(labels.items())), annotations=tuple(sorted(annotations.items())))
