"""Generated `promtool test rules` files: per SLO, synthetic series that prove its alerts behave.

Scenarios (event SLIs; the inputs are the SLO's own source metrics, so the whole chain from the
raw counters to the alert is exercised):

* outage: a total outage pages within the fastest page pair's detection time plus one interval,
  and not before it starts;
* recovery: a short outage pages, then clears within the short window of each pair that fired
  plus one evaluation;
* factor burns: a steady burn at each page pair's factor pages exactly when that pair's long
  window is full (the workbook's detection time), not one base window earlier;
* budget: a steady 1x burn never pages, and no ticket opens before the longest ticket window has
  spent its share of the budget;
* low traffic (when `min_traffic` is set): a total outage at half the minimum never pages.

Time-slice SLIs and raw `ratio` SLIs get no generated tests (their inputs cannot be synthesised
from the spec alone).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slo.catalog import BY_KEY
from slo.metrics.write import format_float
from slo.rules import conventions as cv
from slo.rules.generate import alert_annotations, alert_name
from slo.rules.series import counter_values
from slo.rules.windows import Pair, pairs_for
from slo.spec import SLO, expand, format_duration

INTERVAL_S = 60
# Multi-day scenarios: samples every 2m30s (two per 5m rate window, as Prometheus 3 needs) and rules
# evaluated every 5m, which tiles the derived windows exactly and keeps promtool fast.
SLOW_INTERVAL_S = 150
SLOW_EVALUATION_S = 300
TEST_VALUE = "test"


@dataclass(frozen=True, slots=True)
class Phase:
    minutes: int
    total: float  # events per interval
    bad: float


def supports(slo: SLO) -> bool:
    return slo.sli.kind in ("latency", "token_latency", "availability", "goodput")


def _labels(slo: SLO) -> dict[str, str]:
    inst = expand(slo)[0]
    out = dict(inst.matchers)
    out.update({label: f"{TEST_VALUE}-{label}" for label in inst.group_labels})
    return out


def _series_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}" if inner else name


def input_series(slo: SLO, phases: Sequence[Phase]) -> list[dict[str, str]]:
    """Source series with `total` and `bad` events per interval for each phase."""
    base = _labels(slo)
    good = [(p.minutes, p.total - p.bad) for p in phases]
    bad = [(p.minutes, p.bad) for p in phases]
    total = [(p.minutes, p.total) for p in phases]
    sli = slo.sli
    out: list[tuple[str, dict[str, str], list[tuple[int, float]]]] = []
    if sli.kind in ("latency", "token_latency"):
        name = BY_KEY[sli.metric].prom_name
        out.append((f"{name}_count", base, total))
        out.append((f"{name}_bucket", {**base, "le": format_float(sli.threshold)}, good))
        out.append((f"{name}_bucket", {**base, "le": "+Inf"}, total))
    elif sli.kind == "availability":
        name = BY_KEY["proxy_requests" if sli.source == "proxy" else "requests"].prom_name
        failure = "engine_error" if sli.source == "proxy" else "error"
        ignored = "client_cancel" if sli.source == "proxy" else "abort"
        out.append((name, {**base, "outcome": "success"}, good))
        out.append((name, {**base, "outcome": failure}, bad))
        # cancels (proxy) or aborts (engine) at the full request rate must not count as failures
        out.append((name, {**base, "outcome": ignored}, total))
    elif sli.kind == "goodput":
        name = BY_KEY["goodput"].prom_name
        out.append((name, {**base, "slo": slo.name, "goodput": "met"}, good))
        out.append((name, {**base, "slo": slo.name, "goodput": "missed"}, bad))
    return [{"series": _series_text(n, lab), "values": counter_values(segs)} for n, lab, segs in out]


def _alert_labels(slo: SLO, severity: str) -> dict[str, str]:
    al = slo.alerting
    tier = al.page if severity == "page" else al.ticket
    inst = expand(slo)[0]
    labels = {**slo.labels, cv.SLO_LABEL: slo.name, cv.SEVERITY_LABEL: severity, **al.labels, **tier.labels}
    labels.update({label: f"{TEST_VALUE}-{label}" for label in inst.group_labels})
    return dict(sorted(labels.items()))


def _annotations(slo: SLO, severity: str) -> dict[str, str]:
    return dict(alert_annotations(slo, severity, [p for p in pairs_for(slo) if p.severity == severity]))


def _check(slo: SLO, severity: str, minute: int, firing: bool) -> dict[str, Any]:
    exp = [{"exp_labels": _alert_labels(slo, severity), "exp_annotations": _annotations(slo, severity)}]
    if not firing:
        exp = []
    return {"eval_time": format_duration(minute * 60) if minute else "0s", "alertname": alert_name(slo, severity),
            "exp_alerts": exp}


def _minutes(seconds: Decimal | int) -> int:
    return math.ceil(Decimal(seconds) / 60)


def _traffic(slo: SLO) -> float:
    """Events per interval: comfortably above min_traffic, and round."""
    floor = (slo.min_rate or 0.0) * INTERVAL_S * 10
    return float(max(1000, 10 ** math.ceil(math.log10(floor)) if floor > 0 else 0))


def _test(name: str, slo: SLO, phases: list[Phase], checks: list[dict[str, Any]],
          interval_s: int = INTERVAL_S) -> dict[str, Any]:
    """Phases are in minutes and events per minute; the series are sampled every `interval_s`."""
    per = interval_s / 60
    scaled = [Phase(int(p.minutes / per), p.total * per, p.bad * per) for p in phases]
    return {"name": name, "interval": format_duration(interval_s), "input_series": input_series(slo, scaled),
            "alert_rule_test": checks}


def scenario_tests(slo: SLO) -> list[dict[str, Any]]:
    pairs = pairs_for(slo)
    page = [p for p in pairs if p.severity == "page"]
    [p for p in pairs if p.severity == "ticket"]
    budget = slo.error_budget
    t = _traffic(slo)
    tests: list[dict[str, Any]] = []
    possible = [p for p in page if p.threshold(budget) < 1]
    if possible:
        detect = min(_minutes(p.long_s * p.threshold(budget)) for p in possible)
        history = max(p.long_s for p in possible) // 60 + 60
        start = history
        tests.append(_test(
            "total outage pages within the fastest pair's detection time", slo,
            [Phase(history, t, 0), Phase(detect + 30, t, t)],
            [_check(slo, "page", start, False), _check(slo, "page", start + detect + 1, True)],
        ))
        # recovery: an outage just long enough to trip the fastest pair
        length = detect + 1
        fired = [p for p in possible if Decimal(length * 60) >= p.long_s * p.threshold(budget)]
        clear = max(_minutes(p.short_s) for p in fired) + 1
        tests.append(_test(
            "after recovery the page clears within the short window plus one evaluation", slo,
            [Phase(history, t, 0), Phase(length, t, t), Phase(clear + 10, t, 0)],
            [_check(slo, "page", start + length, True), _check(slo, "page", start + length + clear, False)],
        ))
        for p in possible:
            tests.append(_factor_test(slo, p, page, t))
    if slo.min_rate and possible:
        low = slo.min_rate * INTERVAL_S / 2
        history = max(p.long_s for p in possible) // 60 + 60
        longest = max(p.long_s for p in possible) // 60
        tests.append(_test(
            "traffic below min_traffic never pages, even in a total outage", slo,
            [Phase(history, low, 0), Phase(longest + 10, low, low)],
            [_check(slo, "page", history + m, False) for m in sorted({2, 30, longest // 2, longest})],
        ))
    return tests


def _factor_test(slo: SLO, pair: Pair, page: list[Pair], t: float) -> dict[str, Any]:
    """A steady burn at exactly the pair's factor pages when its long window is full."""
    budget = slo.error_budget
    ratio = float(pair.threshold(budget))
    history = max(p.long_s for p in page) // 60 + 60
    long_m = pair.long_s // 60
    faster = [p for p in page if p is not pair and p.factor <= pair.factor]
    checks = [_check(slo, "page", history + long_m, True)]
    if not faster:
        checks.insert(0, _check(slo, "page", history + long_m - cv.BASE_WINDOW_S // 60, False))
    return _test(
        f"a steady {pair.factor.normalize():f}x burn pages within the "
        f"{format_duration(pair.long_s)}/{format_duration(pair.short_s)} detection time", slo,
        [Phase(history, t, 0), Phase(long_m + 10, t, t * ratio)], checks,
    )


def _budget_test(slo: SLO, page: list[Pair], ticket: list[Pair], t: float) -> list[dict[str, Any]]:
    """1x burn: never a page; no ticket before the slowest ticket pair's long window is full."""
    if not page and not ticket:
        return []
    ratio = float(slo.error_budget)
    longest = max(p.long_s for p in (*page, *ticket)) // 60
    # One healthy hour is enough: until the burn has lasted a full long window, that window holds
    # either healthy history or nothing, so its ratio stays under 1x either way.
    history = 60
    checks: list[dict[str, Any]] = []
    marks = sorted({60, longest // 4, longest // 2, longest - cv.BASE_WINDOW_S // 60, longest + 60})
    for m in marks:
        if page:
            checks.append(_check(slo, "page", history + m, False))
    if ticket and all(p.factor >= 1 for p in ticket):
        slowest = max(ticket, key=lambda p: p.long_s)
        for m in marks:
            if m < slowest.long_s // 60:
                checks.append(_check(slo, "ticket", history + m, False))
        if slowest.factor == 1:
            # 1x for the whole long window has spent exactly its share of the budget: now it opens
            checks.append(_check(slo, "ticket", history + slowest.long_s // 60, True))
    if not checks:
        return []
    return [_test("a steady 1x burn never pages and opens no ticket before the budget math says so", slo,
                  [Phase(history, t, 0), Phase(longest + 70, t, t * ratio)], checks, SLOW_INTERVAL_S)]


def test_files(slo: SLO, rule_file: str) -> dict[str, dict[str, Any]]:
    """promtool test documents for one SLO by file suffix (`test`: minute-resolution scenarios,
    `budget.test`: multi-day ones at 5m evaluation); empty when its SLI cannot be synthesised."""
    if not supports(slo):
        return {}
    out: dict[str, dict[str, Any]] = {}
    fast = scenario_tests(slo)
    if fast:
        out["test"] = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": fast}
    pairs = pairs_for(slo)
    slow = _budget_test(slo, [p for p in pairs if p.severity == "page"], [p for p in pairs if p.severity == "ticket"],
                        _traffic(slo))
    if slow:
        out["budget.test"] = {"rule_files": [rule_file], "evaluation_interval": format_duration(SLOW_EVALUATION_S),
                              "tests": slow}
    return out
