from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.catalog import boundaries as b
from slo.mapping.rebucket import HistogramError, rebucket

INF = math.inf


@st.composite
def histograms(draw: st.DrawFn) -> tuple[list[tuple[float, float]], tuple[float, ...]]:
    """A random cumulative histogram whose boundaries mix grid and off-grid values, and a grid."""
    grid = tuple(sorted(draw(st.sets(st.sampled_from(b.TTFT), min_size=1, max_size=12))))
    off_grid = draw(st.sets(st.floats(0.0005, 3000, allow_nan=False).filter(lambda x: x not in b.TTFT),
                            max_size=6))
    bounds = sorted(set(draw(st.lists(st.sampled_from(grid), max_size=len(grid)))) | off_grid)
    increments = draw(st.lists(st.integers(0, 1000), min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    cumulative: list[tuple[float, float]] = []
    total = 0
    for le, inc in zip([*bounds, INF], increments, strict=True):
        total += inc
        cumulative.append((le, float(total)))
    return cumulative, grid


@settings(max_examples=300, deadline=None)
@given(histograms())
def test_rebucket_is_exact_merging_never_interpolation(
    case: tuple[list[tuple[float, float]], tuple[float, ...]],
) -> None:
    buckets, grid = case
    source = dict(buckets)
    result = rebucket(buckets, grid, count=buckets[-1][1])
    # every kept bucket carries exactly the source's cumulative count at that boundary
    for le, value in result.buckets:
        assert source[le] == value
    # kept = source boundaries on the grid, plus +Inf; merged = the rest, reported
    assert {le for le, _ in result.buckets} == {le for le in source if le in grid or le == INF}
    assert set(result.merged) == {le for le in source if le not in grid and le != INF}
    # total count is preserved, cumulative order holds
    assert result.buckets[-1] == (INF, buckets[-1][1])
    values = [v for _, v in result.buckets]
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("buckets", "count", "message"),
    [
        pytest.param([(0.1, 1.0), (0.5, 2.0)], None, "no \\+Inf", id="no-inf"),
        pytest.param([(0.1, 3.0), (0.5, 2.0), (INF, 3.0)], None, "below the previous", id="decreasing"),
        pytest.param([(0.1, 1.0), (INF, 3.0)], 4.0, "differs from the \\+Inf", id="count-mismatch"),
        pytest.param([], None, "no \\+Inf", id="empty"),
        pytest.param([(0.1, math.nan), (INF, 1.0)], None, "below the previous", id="nan"),
    ],
)
def test_untrustworthy_histograms_are_rejected(
    buckets: list[tuple[float, float]], count: float | None, message: str
) -> None:
    with pytest.raises(HistogramError, match=message):
        rebucket(buckets, b.TTFT, count)


def test_vllm_default_buckets_map_without_merging() -> None:
    buckets = [(le, float(i)) for i, le in enumerate(b.VLLM_TTFT)] + [(INF, 99.0)]
    result = rebucket(buckets, b.TTFT, 99.0)
    assert result.merged == ()
    assert len(result.buckets) == len(b.VLLM_TTFT) + 1
