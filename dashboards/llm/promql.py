"""PromQL for canonical SLIs, correct by construction.

Names come from the catalog (`slo.catalog.get(key).prom_name`), never literals. Quantiles are
`histogram_quantile` over `sum by (le, ...)` of bucket rates, so pods aggregate correctly; ratios
and means divide rates over the same window, never lifetime counters; a denominator is kept only
where it is above zero, so an idle model gives an empty result (shown as "no traffic") rather than
NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

from slo.catalog import Instrument, get
from slo.metrics.write import le_matcher

RATE_WINDOW = "$__rate_interval"

# Label filters every panel applies, from the dashboard's template variables.
ENGINE_FILTERS = ('namespace=~"$namespace"', 'model_name=~"$model"', 'pod=~"$pod"')
PROXY_FILTERS = ('namespace=~"$namespace"', 'model_name=~"$model"')
GPU_FILTERS = ('namespace=~"$namespace"', 'pod=~"$pod"')


def metric(key: str, suffix: str = "") -> str:
    """The Prometheus name of an SLI, with `_bucket`/`_sum`/`_count` for histograms."""
    sli = get(key)
    if suffix and sli.instrument is not Instrument.HISTOGRAM:
        raise ValueError(f"{key}: {suffix} only exists on histograms, this is a {sli.instrument.value}")
    return sli.prom_name + suffix


def selector(key: str, suffix: str = "", filters: Sequence[str] = ENGINE_FILTERS,
             extra: Sequence[str] = ()) -> str:
    return metric(key, suffix) + "{" + ", ".join((*filters, *extra)) + "}"


def by(labels: Sequence[str]) -> str:
    return f"by ({', '.join(labels)})"


def rate(key: str, suffix: str = "", filters: Sequence[str] = ENGINE_FILTERS, extra: Sequence[str] = (),
         window: str = RATE_WINDOW) -> str:
    sli = get(key)
    if sli.instrument is Instrument.GAUGE:
        raise ValueError(f"{key} is a gauge: rate() of it means nothing")
    return f"rate({selector(key, suffix, filters, extra)}[{window}])"


def sum_rate(key: str, group: Sequence[str], suffix: str = "", filters: Sequence[str] = ENGINE_FILTERS,
             extra: Sequence[str] = ()) -> str:
    return f"sum {by(group)} ({rate(key, suffix, filters, extra)})" if group else \
        f"sum ({rate(key, suffix, filters, extra)})"


def quantile(q: float, key: str, group: Sequence[str], filters: Sequence[str] = ENGINE_FILTERS,
             extra: Sequence[str] = ()) -> str:
    """The q-quantile per group, from bucket rates summed across every series of the group; a group
    without observations in the window has no value (not NaN)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} outside (0, 1)")
    if get(key).instrument is not Instrument.HISTOGRAM:
        raise ValueError(f"{key} is not a histogram")
    # `>= 0` drops the NaN histogram_quantile returns for a window without observations ("no traffic").
    return f"histogram_quantile({q:g}, {sum_rate(key, ('le', *group), '_bucket', filters, extra)}) >= 0"


def divide(numerator: str, denominator: str, on: Sequence[str] = ()) -> str:
    """numerator / denominator where the denominator is above zero, else no value ("no traffic").

    `on`: the denominator has only these labels, the numerator more (a share of a whole).
    """
    # `group_left ()`: without the empty list Prometheus would read the parenthesised denominator as labels.
    match = f" on ({', '.join(on)}) group_left ()" if on else ""
    return f"{numerator} /{match} ({denominator} > 0)"


def mean(key: str, group: Sequence[str], filters: Sequence[str] = ENGINE_FILTERS) -> str:
    """Mean of a histogram's observations over the window: rate of the sum over rate of the count."""
    return divide(sum_rate(key, group, "_sum", filters), sum_rate(key, group, "_count", filters))


def share_within(key: str, threshold: float, group: Sequence[str], filters: Sequence[str] = ENGINE_FILTERS,
                 window: str = RATE_WINDOW) -> str:
    """Fraction of observations at or below `threshold`, which must be a bucket boundary of the SLI."""
    boundaries = get(key).boundaries
    if threshold not in boundaries:
        raise ValueError(f"{key}: {threshold:g} is not a bucket boundary ({', '.join(f'{b:g}' for b in boundaries)})")
    agg = f"sum {by(group)}" if group else "sum"
    good = f"{agg} ({rate(key, '_bucket', filters, (le_matcher(threshold),), window)})"
    total = f"{agg} ({rate(key, '_count', filters, (), window)})"
    return divide(good, total)


def or_zero(expr: str, like: str) -> str:
    """`expr`, or 0 for every series of `like` that `expr` lacks: a counter a source creates only on the
    first event (errors) reads 0 instead of vanishing while there is traffic."""
    return f"({expr} or {like} * 0)"


def topk_or_other(k: str, per_tenant: str, per_tenant_named: str, label: str = "tenant") -> str:
    """The `k` largest series of `per_tenant_named` plus one `other` series with the rest of `per_tenant`.

    `per_tenant` is aggregated `by (label)` over everything, `per_tenant_named` the same without the
    exporter's own `other` bucket (it joins the computed rest instead of taking a top-k slot).
    """
    top = f"topk({k}, {per_tenant_named})"
    rest = f"sum({per_tenant}) - (sum({top}) or vector(0))"
    return f'{top} or label_replace({rest}, "{label}", "other", "", "")'
