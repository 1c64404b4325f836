"""Hold the pipeline's SLIs against what the load generator measured itself (pure functions).

Counts must be equal. A quantile from a histogram is only known to a bucket, so the check is that the
load generator's own quantile falls inside the bucket the histogram puts it in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The client's clock starts before the proxy's and stops after it (connection set-up, socket
# buffers), so a client value just over a bucket edge is still the same observation.
CLIENT_SLACK_S = 0.005


@dataclass(frozen=True)
class Check:
    name: str
    pipeline: str
    client: str
    ok: bool


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def quantile_bucket(buckets: Mapping[float, float], q: float) -> tuple[float, float]:
    """(lower, upper] of the bucket holding the q-quantile, from cumulative counts by upper bound."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    rank = max(1, math.ceil(q * total))
    lower = 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            return lower, bound
        lower = bound
    return lower, math.inf


def quantile_check(name: str, buckets: Mapping[float, float], client: Sequence[float], q: float) -> Check:
    lower, upper = quantile_bucket(buckets, q)
    mine = nearest_rank(client, q)
    ok = lower - CLIENT_SLACK_S <= mine <= upper + CLIENT_SLACK_S
    return Check(name, f"({lower:g}, {upper:g}] s", f"{mine:.3f} s", ok)


def count_check(name: str, pipeline: float, client: float) -> Check:
    return Check(name, f"{pipeline:g}", f"{client:g}", pipeline == client)
