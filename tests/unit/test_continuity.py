from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slo.mapping import Continuity
from slo.metrics.model import MetricFamily, MetricType, Sample

L = (("model_name", "m"),)


def counter(value: float) -> tuple[MetricFamily, ...]:
    return (MetricFamily("c_total", MetricType.COUNTER, "", (Sample("c_total", L, value),)),)


def histogram(b1: float, inf: float, total: float, les: tuple[str, ...] = ("0.1", "+Inf")) -> tuple[MetricFamily, ...]:
    values = dict(zip(les, (b1, inf), strict=False))
    samples = [Sample("h_bucket", (("le", le), *L), values.get(le, inf)) for le in les]
    samples += [Sample("h_count", L, inf), Sample("h_sum", L, total)]
    return (MetricFamily("h", MetricType.HISTOGRAM, "", tuple(samples)),)


def value_of(families: tuple[MetricFamily, ...], name: str, le: str | None = None) -> float:
    for s in families[0].samples:
        if s.name == name and (le is None or s.label("le") == le):
            return s.value
    raise AssertionError(name)


def test_counter_reset_is_absorbed() -> None:
    c = Continuity()
    assert value_of(c.apply(counter(10)), "c_total") == 10
    assert value_of(c.apply(counter(3)), "c_total") == 13
    assert value_of(c.apply(counter(5)), "c_total") == 15
    assert c.resets == 1


def test_restart_seen_through_epoch_even_when_value_grew() -> None:
    c = Continuity()
    c.apply(counter(10), epoch=100.0)
    # restarted and already past the old value: invisible without the epoch
    assert value_of(c.apply(counter(12), epoch=200.0), "c_total") == 22
    assert value_of(c.apply(counter(14), epoch=200.0), "c_total") == 24


def test_histogram_child_resets_as_a_whole() -> None:
    c = Continuity()
    c.apply(histogram(4, 10, 2.5))
    out = c.apply(histogram(1, 2, 0.5))
    assert value_of(out, "h_bucket", "0.1") == 5
    assert value_of(out, "h_bucket", "+Inf") == 12
    assert value_of(out, "h_count") == 12
    assert value_of(out, "h_sum") == 3.0


def test_changed_bucket_layout_exposes_the_reset_instead_of_guessing() -> None:
    c = Continuity()
    c.apply(histogram(4, 10, 2.5))
    out = c.apply(histogram(1, 2, 0.5, les=("0.2", "+Inf")))
    assert value_of(out, "h_count") == 2
    assert c.resets == 1


def test_gauges_pass_through() -> None:
    c = Continuity()
    g = (MetricFamily("g", MetricType.GAUGE, "", (Sample("g", L, 5.0),)),)
    c.apply(g)
    out = c.apply((MetricFamily("g", MetricType.GAUGE, "", (Sample("g", L, 1.0),)),))
    assert out[0].samples[0].value == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=8), min_size=1, max_size=6))
def test_output_is_monotonic_and_counts_every_increment(lifetimes: list[list[int]]) -> None:
    """Each inner list is one engine lifetime (restart between lists) of increments. The output
    must never go down and must end at the total of all increments across restarts."""
    c = Continuity()
    last = 0.0
    epoch = 0.0
    for life in lifetimes:
        epoch += 1
        raw = 0
        for inc in life:
            raw += inc
            out = value_of(c.apply(counter(raw), epoch=epoch), "c_total")
            assert out >= last
            last = out
    assert last == sum(sum(life) for life in lifetimes)
