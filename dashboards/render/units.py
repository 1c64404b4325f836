"""Format a value in a Grafana unit, close enough to Grafana's own formatting for a preview."""

from __future__ import annotations

import math

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BYTES = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def _num(value: float) -> str:
    """Three significant digits without switching to exponent notation below 1e6."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _short(value: float) -> str:
    for factor, prefix in _SI:
        if abs(value) >= factor:
            return f"{_num(value / factor)}{prefix}"
    return _num(value)


def _seconds(value: float) -> str:
    if value == 0:
        return "0 s"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if abs(value) < 1:
        return f"{_num(value * 1e3)} ms"
    return f"{_num(value)} s"


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "NaN"
    if unit == "s":
        return _seconds(value)
    if unit == "percentunit":
        return f"{_num(value * 100)} %"
    if unit == "bytes":
        for factor, name in _BYTES:
            if abs(value) >= factor:
                return f"{_num(value / factor)} {name}"
        return f"{value:.0f} B"
    if unit.startswith("suffix:"):
        return f"{_short(value)}{unit[len('suffix:'):]}"
    suffix = {"reqps": " req/s", "ops": " ops/s", "joule": " J", "watt": " W"}.get(unit, "")
    return f"{_short(value)}{suffix}"
