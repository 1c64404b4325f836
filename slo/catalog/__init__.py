"""The SLI catalog: one declarative entry per SLI, the single source of truth for names,
units, bucket boundaries, definitions and how each engine version provides it.

Exporters, the collector, the rule generator, dashboards and slo-lint all read it from here.
"""

from __future__ import annotations

from slo.catalog.engine import ENGINE_SLIS
from slo.catalog.gpu import GPU_SLIS
from slo.catalog.model import (
    SLI,
    Fidelity,
    Instrument,
    LabelDerivation,
    Source,
    SourceKind,
    Vantage,
)
from slo.catalog.proxy import PROXY_SLIS

CATALOG: tuple[SLI, ...] = (*ENGINE_SLIS, *PROXY_SLIS, *GPU_SLIS)
BY_KEY: dict[str, SLI] = {s.key: s for s in CATALOG}


def get(key: str) -> SLI:
    """Look an SLI up by key; the error lists the valid keys so a typo in a spec is obvious."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown SLI {key!r}; known: {', '.join(sorted(BY_KEY))}") from None


def slis_from(kind: SourceKind) -> tuple[SLI, ...]:
    return tuple(s for s in CATALOG if s.sources_of(kind))


__all__ = [
    "BY_KEY",
    "CATALOG",
    "SLI",
    "Fidelity",
    "Instrument",
    "LabelDerivation",
    "Source",
    "SourceKind",
    "Vantage",
    "get",
    "slis_from",
]
