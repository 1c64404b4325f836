"""promtool's expanding series notation from per-interval increments.

A counter fed `[(120, 1000.0), (5, 0.0)]` (120 intervals of +1000, then 5 of +0) becomes
`0+1000x120 120000+0x5`: each segment restarts at the exact running total, so values never drift.
"""

from __future__ import annotations

from collections.abc import Sequence


def _num(value: float) -> str:
    text = f"{value:.12g}"
    return text


def counter_values(segments: Sequence[tuple[int, float]]) -> str:
    """Values for a counter that starts at 0 and grows by `inc` for `n` intervals per segment."""
    parts: list[str] = []
    total = 0.0
    first = True
    for n, inc in segments:
        if n <= 0:
            continue
        if first:
            parts.append(f"{_num(total)}+{_num(inc)}x{n}")
            first = False
        else:
            parts.append(f"{_num(total + inc)}+{_num(inc)}x{n - 1}" if n > 1 else _num(total + inc))
        total += inc * n
    return " ".join(parts) if parts else "0"
