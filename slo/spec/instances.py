"""From an SLO to the concrete things rules are built from: catalog SLIs, label names, selectors.

Users write `by: [model, tenant]` and `match: {model: llama}`; the catalog's label is `model_name`.
This module owns that mapping and checks that grouping and filter labels exist on the SLI's
metrics (tenant is a proxy/collector label, never on engine histograms), so a spec that would
silently aggregate everything into one series is rejected instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.catalog import BY_KEY, CATALOG, SLI
from slo.spec.model import SLO

LABEL_ALIASES: dict[str, str] = {"model": "model_name"}
_ALL_CATALOG_LABELS = frozenset(label for sli in CATALOG for label in sli.labels)


def canonical_label(name: str) -> str:
    return LABEL_ALIASES.get(name, name)


def sli_keys(slo: SLO) -> tuple[str, ...]:
    """The catalog SLIs an SLO reads, in a fixed order (empty for raw `ratio` SLIs)."""
    sli = slo.sli
    if sli.kind in ("latency", "token_latency"):
        return (sli.metric,)
    if sli.kind == "availability":
        return ("proxy_requests",) if sli.source == "proxy" else ("requests",)
    if sli.kind == "cache_hit":
        return ("prefix_cache_hits", "prefix_cache_queries")
    if sli.kind == "throughput":
        return ("output_tokens", "requests")
    if sli.kind == "goodput":
        return ("goodput",)
    return ()


def label_problems(slo: SLO) -> list[tuple[str, str]]:
    """(field, message) for `by`/`match` labels the SLI's metrics do not carry."""
    keys = sli_keys(slo)
    if not keys:
        return []
    slis = [BY_KEY[k] for k in keys]
    common = set.intersection(*(set(s.labels) for s in slis))
    out: list[tuple[str, str]] = []
    for fld, names in (("by", list(slo.by)), ("match", list(slo.match))):
        for name in names:
            label = canonical_label(name)
            if label in _ALL_CATALOG_LABELS and label not in common:
                out.append((fld, f"label {name!r} ({label}) is not on {', '.join(s.prom_name for s in slis)}; "
                                 f"available: {', '.join(sorted(common))}"))
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class Instance:
    """One concrete SLO: the labels its ratios keep and the matchers every selector carries."""

    slo: SLO
    group_labels: tuple[str, ...]
    matchers: tuple[tuple[str, str], ...]

    @property
    def slis(self) -> tuple[SLI, ...]:
        return tuple(BY_KEY[k] for k in sli_keys(self.slo))

    def selector(self, metric: str, *extra: str) -> str:
        """`metric{label="v",...,extra...}` with the SLO's static matchers first (sorted)."""
        parts = [f'{k}="{_escape(v)}"' for k, v in self.matchers] + list(extra)
        return f"{metric}{{{','.join(parts)}}}" if parts else metric

    @property
    def by_clause(self) -> str:
        return f"sum by ({', '.join(self.group_labels)})" if self.group_labels else "sum"


def expand(slo: SLO) -> tuple[Instance, ...]:
    """The concrete instances of an SLO. Grouping (`by`) stays dynamic: one set of rules serves
    every model/tenant, each getting its own series, so a new model needs no regeneration."""
    group = tuple(canonical_label(b) for b in slo.by)
    matchers = tuple(sorted((canonical_label(k), v) for k, v in slo.match.items()))
    return (Instance(slo, group, matchers),)
