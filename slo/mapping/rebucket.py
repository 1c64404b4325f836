"""Exact re-bucketing of cumulative histograms onto the canonical boundary grid.

Cumulative buckets can only be merged exactly, never split: the count at a boundary the source
did not have is unknown. So a source bucket whose boundary is on the grid is kept as is, and one
off the grid is dropped, which merges its observations into the next kept bucket (still exact
cumulative counts, less resolution). Nothing is ever interpolated; a merge is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from slo.catalog.boundaries import Boundaries

Bucket = tuple[float, float]  # (upper bound `le`, cumulative count)


class HistogramError(ValueError):
    """A histogram child that cannot be trusted: missing +Inf, counts going down, count != +Inf."""


@dataclass(frozen=True, slots=True)
class Rebucketed:
    buckets: tuple[Bucket, ...]  # ascending, ending with +Inf
    merged: tuple[float, ...]  # source boundaries that were off the grid and merged upward


def validate(buckets: Sequence[Bucket], count: float | None) -> tuple[Bucket, ...]:
    ordered = tuple(sorted(buckets))
    if not ordered or not math.isinf(ordered[-1][0]):
        raise HistogramError("no +Inf bucket")
    previous = 0.0
    for le, value in ordered:
        if math.isnan(value) or value < previous:
            raise HistogramError(f"bucket le={le} count {value} is below the previous bucket {previous}")
        previous = value
    for (a, _), (b, _) in pairwise(ordered):
        if a == b:
            raise HistogramError(f"duplicate bucket le={a}")
    if count is not None and count != ordered[-1][1]:
        raise HistogramError(f"_count {count} differs from the +Inf bucket {ordered[-1][1]}")
    return ordered


def rebucket(buckets: Sequence[Bucket], grid: Boundaries, count: float | None = None) -> Rebucketed:
    ordered = validate(buckets, count)
    on_grid = set(grid)
    kept = tuple((le, v) for le, v in ordered if le in on_grid or math.isinf(le))
    merged = tuple(le for le, _ in ordered if le not in on_grid and not math.isinf(le))
    return Rebucketed(kept, merged)
