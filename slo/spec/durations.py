"""Prometheus durations (`5m`, `1h30m`, `28d`) as whole seconds, and back.

SLO windows and alert windows are kept as integer seconds so that window arithmetic (scaling burn
factors, `6h - 5m` ranges) is exact; they are rendered back in Prometheus' own spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(y|w|d|h|m|s)")
_FULL = re.compile(r"^(?:\d+(?:y|w|d|h|m|s))+$")
_ORDER = ("y", "w", "d", "h", "m", "s")


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> int:
    """`1h30m` -> 5400. Raises ValueError for anything Prometheus would not accept (or ms)."""
    if not isinstance(text, str) or not _FULL.match(text):
        raise ValueError(f"{text!r} is not a duration like 5m, 1h30m or 28d")
    parts = _PART.findall(text)
    units = [u for _, u in parts]
    if len(set(units)) != len(units) or units != sorted(units, key=_ORDER.index):
        raise ValueError(f"{text!r}: units must appear once each, largest first")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than 0s")
    return seconds


@lru_cache(maxsize=4096)
def format_duration(seconds: int) -> str:
    """5400 -> `1h30m`; uses d, h, m, s (never w or y, so `28d` stays `28d`)."""
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds} s")
    out = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
