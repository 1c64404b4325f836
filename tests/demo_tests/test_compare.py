"""The demo report's checks: a quantile is judged by its bucket, counts by equality."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from llmslo_demo.compare import count_check, nearest_rank, quantile_bucket, quantile_check

BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)


def cumulative(values: list[float]) -> dict[float, float]:
    return {b: float(sum(1 for v in values if v <= b)) for b in BOUNDS}


def test_quantile_bucket_finds_the_bucket_holding_the_rank() -> None:
    buckets = cumulative([0.02, 0.03, 0.2, 0.3, 3.0])
    assert quantile_bucket(buckets, 0.5) == (0.1, 0.25)
    assert quantile_bucket(buckets, 0.99) == (2.5, math.inf)
    assert quantile_bucket(buckets, 0.2) == (0.01, 0.05)


@given(st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=200),
       st.sampled_from([0.5, 0.9, 0.99]))
def test_the_clients_own_quantile_always_lies_in_the_histograms_bucket(values: list[float], q: float) -> None:
    check = quantile_check("ttft", cumulative(values), values, q)
    assert check.ok, check
    lower, upper = quantile_bucket(cumulative(values), q)
    assert lower < nearest_rank(values, q) <= upper or (lower == 0.0 and nearest_rank(values, q) == 0.0)


def test_a_quantile_off_by_a_bucket_is_caught() -> None:
    values = [0.02] * 50 + [0.3] * 50
    slow = [v + 1.0 for v in values]
    assert not quantile_check("ttft", cumulative(values), slow, 0.5).ok


def test_counts_must_be_equal() -> None:
    assert count_check("tokens", 120.0, 120).ok
    assert not count_check("tokens", 119.0, 120).ok
