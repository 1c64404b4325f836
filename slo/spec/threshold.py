"""The shared threshold-on-boundary check (rule generation and slo-lint both use it).

A latency SLO counts requests at or under a threshold from histogram buckets; that count is exact
only when the threshold is a bucket boundary. Anything else would need interpolation, which hides
an error of up to a whole bucket, so it is rejected with the boundaries that would work.
"""

from __future__ import annotations

import math

from slo.catalog import BY_KEY, Instrument
from slo.metrics.write import format_float
from slo.spec.errors import ThresholdError

_REL_TOL = 1e-9


def boundary_index(boundaries: tuple[float, ...], threshold: float) -> int | None:
    for i, b in enumerate(boundaries):
        if math.isclose(b, threshold, rel_tol=_REL_TOL, abs_tol=0.0):
            return i
    return None


def check_threshold(sli_key: str, threshold: float) -> None:
    """Raise ThresholdError unless `threshold` is a bucket boundary of histogram SLI `sli_key`."""
    sli = BY_KEY.get(sli_key)
    if sli is None:
        raise ThresholdError(sli_key, threshold, None, None,
                             f"unknown SLI {sli_key!r}; known: {', '.join(sorted(BY_KEY))}")
    if sli.instrument is not Instrument.HISTOGRAM or not sli.boundaries:
        raise ThresholdError(sli_key, threshold, None, None,
                             f"SLI {sli_key!r} is a {sli.instrument.value}, not a histogram: it has no thresholds")
    if not math.isfinite(threshold) or threshold <= 0:
        raise ThresholdError(sli_key, threshold, None, None,
                             f"threshold {threshold!r} for {sli_key!r} must be a positive number")
    bounds = sli.boundaries
    if boundary_index(bounds, threshold) is not None:
        return
    below = max((b for b in bounds if b < threshold), default=None)
    above = min((b for b in bounds if b > threshold), default=None)
    options = " or ".join(f"{format_float(b)} {sli.unit}" for b in (below, above) if b is not None)
    raise ThresholdError(
        sli_key, threshold, below, above,
        f"threshold {format_float(threshold)} {sli.unit} is not a bucket boundary of {sli_key!r} "
        f"({sli.prom_name}); the nearest boundaries are {options}",
    )
