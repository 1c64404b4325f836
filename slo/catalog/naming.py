"""OTel metric name + unit -> Prometheus name, by the OTel Prometheus-compatibility rules.

Dots and other invalid characters become `_`; the UCUM unit becomes a suffix in its Prometheus
spelling (s -> seconds, By -> bytes, ...); annotations in braces (`{token}`) add nothing; a
dimensionless gauge gets `_ratio`; monotonic counters end in `_total`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from slo.catalog.model import Instrument

_UNIT_SUFFIX = {
    "s": "seconds",
    "ms": "milliseconds",
    "By": "bytes",
    "W": "watts",
    "J": "joules",
    "Hz": "hertz",
    "Cel": "celsius",
}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


@lru_cache(maxsize=1024)
def prometheus_name(otel_name: str, unit: str, instrument: Instrument) -> str:
    name = _INVALID.sub("_", otel_name)
    suffix = _UNIT_SUFFIX.get(unit, "")
    if unit == "1" and instrument is Instrument.GAUGE:
        suffix = "ratio"
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if instrument is Instrument.COUNTER and not name.endswith("_total"):
        name += "_total"
    return name
