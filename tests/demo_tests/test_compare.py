"""The demo report's checks. Counts are judged by equality; latencies by the model in
`llmslo_demo.compare`: the client's TTFT is the proxy's plus a non-negative overhead, of which the
client's own measured stalls are discounted."""

from __future__ import annotations

import asyncio
import math
import time

from hypothesis import given
from hypothesis import strategies as st

from llmslo_demo.compare import (
    MAX_CLIENT_LAG_S,
    OUTLIER_SHARE,
    ClientTTFT,
    client_faster_at,
    count_check,
    distribution_check,
    lag_needed,
    nearest_rank,
    outliers_allowed,
    quantile_bucket,
    quantile_check,
)
from llmslo_demo.load import StallMonitor

BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf)

latencies = st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=200)


def cumulative(values: list[float]) -> dict[float, float]:
    return {b: float(sum(1 for v in values if v <= b)) for b in BOUNDS}


def plain(values: list[float]) -> list[ClientTTFT]:
    return [ClientTTFT(v) for v in values]


def test_quantile_bucket_finds_the_bucket_holding_the_rank() -> None:
    buckets = cumulative([0.02, 0.03, 0.2, 0.3, 30.0])
    assert quantile_bucket(buckets, 0.5) == (0.1, 0.25)
    assert quantile_bucket(buckets, 0.99) == (5.0, math.inf)
    assert quantile_bucket(buckets, 0.2) == (0.01, 0.05)


@given(latencies, st.sampled_from([0.5, 0.9, 0.99]))
def test_the_clients_own_quantile_always_lies_in_the_histograms_bucket(values: list[float], q: float) -> None:
    check = quantile_check("ttft", cumulative(values), plain(values), q, max_lag=0.0, outlier_share=0.0)
    assert check.ok, check
    lower, upper = quantile_bucket(cumulative(values), q)
    assert lower < nearest_rank(values, q) <= upper or (lower == 0.0 and nearest_rank(values, q) == 0.0)


@given(latencies, st.data())
def test_a_client_that_is_the_proxy_plus_a_bounded_overhead_passes_every_check(
    proxy: list[float], data: st.DataObject
) -> None:
    lags = data.draw(st.lists(st.floats(min_value=0.0, max_value=MAX_CLIENT_LAG_S),
                              min_size=len(proxy), max_size=len(proxy)))
    client = [p + d for p, d in zip(proxy, lags, strict=True)]
    buckets = cumulative(proxy)
    assert client_faster_at(buckets, client) == []
    assert lag_needed(buckets, client) <= max(lags) + 1e-9
    assert distribution_check("ttft", buckets, plain(client)).ok
    for q in (0.5, 0.99):
        assert quantile_check("ttft", buckets, plain(client), q).ok


@given(latencies, st.data())
def test_stalls_the_client_measured_are_discounted_and_a_few_outliers_are_let_through(
    proxy: list[float], data: st.DataObject
) -> None:
    """The model in full: overhead = a bounded part + a stall the client measured (at most what it
    measured) for every request but ``outliers_allowed``, which may be read arbitrarily late."""
    n = len(proxy)
    bounded = data.draw(st.lists(st.floats(0.0, MAX_CLIENT_LAG_S), min_size=n, max_size=n))
    measured_stall = data.draw(st.lists(st.floats(0.0, 30.0), min_size=n, max_size=n))
    used = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    late = data.draw(st.sets(st.integers(0, n - 1), max_size=outliers_allowed(n)))
    client = [
        ClientTTFT(p + b + s * u + (100.0 if i in late else 0.0), s)
        for i, (p, b, s, u) in enumerate(zip(proxy, bounded, measured_stall, used, strict=True))
    ]
    buckets = cumulative(proxy)
    assert distribution_check("ttft", buckets, client).ok
    for q in (0.5, 0.9, 0.99):
        assert quantile_check("ttft", buckets, client, q).ok


def test_one_late_read_past_the_allowance_fails_and_a_measured_stall_explains_it() -> None:
    proxy = [0.1] * 99 + [0.3]
    client = plain([0.1] * 99 + [3.0])  # read 2.7 s late; 1% of 100 is one outlier
    assert distribution_check("ttft", cumulative(proxy), client).ok
    assert not distribution_check("ttft", cumulative(proxy), client, outlier_share=0.0).ok
    stalled = [ClientTTFT(0.1)] * 99 + [ClientTTFT(3.0, stalled=2.6)]
    assert distribution_check("ttft", cumulative(proxy), stalled, outlier_share=0.0).ok


def test_a_stall_never_excuses_a_client_faster_than_the_histogram() -> None:
    proxy = [0.3] * 10
    client = [ClientTTFT(0.2, stalled=5.0)] * 10
    assert not distribution_check("ttft", cumulative(proxy), client).ok
    assert not quantile_check("ttft", cumulative(proxy), client, 0.5).ok


def test_the_stall_monitor_sees_a_blocked_loop_and_places_it_in_a_window() -> None:
    async def scenario() -> tuple[StallMonitor, float, float]:
        monitor = StallMonitor()
        task = asyncio.create_task(monitor.run())
        await asyncio.sleep(0.05)
        start = time.monotonic()
        time.sleep(0.3)  # the loop cannot run: what a descheduled process looks like from inside
        await asyncio.sleep(0.05)
        end = time.monotonic()
        task.cancel()
        return monitor, start, end

    monitor, start, end = asyncio.run(scenario())
    assert 0.3 - monitor.tick_s <= monitor.inside(start, end) <= end - start
    assert monitor.inside(start - 10.0, start - 5.0) == 0.0
    assert monitor.inside(end + 1.0, end + 2.0) == 0.0


def test_stall_overlap_is_clipped_to_the_window() -> None:
    monitor = StallMonitor(stalls=[(1.0, 2.0), (3.0, 3.5), (10.0, 11.0)])
    assert monitor.inside(0.0, 20.0) == 2.5
    assert monitor.inside(1.5, 3.25) == 0.75
    assert monitor.inside(2.0, 3.0) == 0.0
    assert monitor.inside(10.5, 10.75) == 0.25


def test_the_lag_needed_is_the_largest_shift_across_a_bound() -> None:
    proxy = [0.04, 0.2, 0.2, 3.0]
    client = [0.041, 0.2, 0.33, 3.2]  # one request read 0.13 s late, across the 0.25 bound
    assert lag_needed(cumulative(proxy), client) == 0.33 - 0.25
    assert lag_needed(cumulative(proxy), client, outliers=1) == 0.0


def test_a_client_faster_than_the_histogram_is_caught_exactly() -> None:
    proxy = [0.2, 0.3, 0.3, 3.0]
    client = [0.2, 0.24, 0.3, 3.0]  # 0.24 s at the client, but the proxy measured more than 0.25 s
    assert client_faster_at(cumulative(proxy), client) == [0.25]
    check = distribution_check("ttft", cumulative(proxy), plain(client))
    assert not check.ok and "0.25" in check.client


def test_a_proxy_that_misses_the_queueing_time_is_caught() -> None:
    queued = [2.0, 3.0, 4.0, 4.5]
    proxy_without_queue = [0.05, 0.06, 0.07, 0.08]
    check = distribution_check("ttft", cumulative(proxy_without_queue), plain(queued))
    assert not check.ok
    assert not quantile_check("ttft", cumulative(proxy_without_queue), plain(queued), 0.5).ok
    # The same miss across a hundred requests, each with a short stall of its own: still caught.
    many = [ClientTTFT(2.0 + i / 100, stalled=0.1) for i in range(100)]
    assert not distribution_check("ttft", cumulative([0.05] * 100), many).ok
    assert OUTLIER_SHARE * len(many) < len(many) / 2


def test_more_histogram_observations_than_client_values_need_an_infinite_lag() -> None:
    assert lag_needed(cumulative([0.1, 0.2, 0.3]), [0.1, 0.2]) == math.inf
    assert not distribution_check("ttft", cumulative([0.1, 0.2, 0.3]), plain([0.1, 0.2])).ok


def test_counts_must_be_equal() -> None:
    assert count_check("tokens", 120.0, 120).ok
    assert not count_check("tokens", 119.0, 120).ok
