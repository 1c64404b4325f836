"""Burn-rate window pairs as data, scaled to an SLO's window.

The default table lives in default_windows.yaml (the SRE workbook's). A pair's factor F over a
long window L spends F * L / P of the budget of an SLO window P; keeping that share constant when
P differs from the table's reference window R gives F_P = F_R * P / R (28d: 14.4 -> 13.44).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files

import yaml

from slo.spec import SLO, BurnWindow, parse_duration


@dataclass(frozen=True, slots=True)
class Pair:
    severity: str
    long_s: int
    short_s: int
    factor: Decimal  # at the SLO's window

    def threshold(self, budget: Decimal) -> Decimal:
        return (self.factor * budget).normalize()

    def budget_share(self, window_s: int) -> Decimal:
        return self.factor * self.long_s / window_s


@lru_cache(maxsize=1)
def default_table() -> tuple[tuple[BurnWindow, ...], str]:
    data = yaml.safe_load(files("slo.rules").joinpath("default_windows.yaml").read_text(encoding="utf-8"))
    return tuple(BurnWindow.model_validate(w) for w in data["windows"]), str(data["reference_window"])


def _round(value: Decimal) -> Decimal:
    """Factors are shown and compared as written; 12 significant digits is far below any noise."""
    return Decimal(f"{value:.12g}").normalize()


def pairs_for(slo: SLO) -> tuple[Pair, ...]:
    """The SLO's enabled pairs, factors scaled to its window, page before ticket, long window ascending."""
    al = slo.alerting
    return _pairs(slo.window_seconds, al.windows, al.reference_window, al.page.enabled, al.ticket.enabled)


@lru_cache(maxsize=1024)
def _pairs(window_s: int, windows: tuple[BurnWindow, ...] | None, reference: str, page: bool,
           ticket: bool) -> tuple[Pair, ...]:
    if windows is not None:
        table = windows
    else:
        table, reference = default_table()
    scale = Decimal(window_s) / Decimal(parse_duration(reference))
    enabled = {"page": page, "ticket": ticket}
    pairs = [
        Pair(w.severity, parse_duration(w.long), parse_duration(w.short), _round(Decimal(repr(w.factor)) * scale))
        for w in table
        if enabled[w.severity]
    ]
    return tuple(sorted(pairs, key=lambda p: (p.severity != "page", p.long_s, p.short_s)))
