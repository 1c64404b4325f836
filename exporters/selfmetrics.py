"""The sidecar's metrics about itself: is the target up, how long scrapes take, what went wrong.

Kept as plain numbers rendered into families on demand, so the whole /metrics answer comes from
one writer and is deterministic.
"""

from __future__ import annotations

import threading
from collections import Counter

from slo.mapping import MappingNote, Schema
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import TemplateBlock, exposition_template, format_float

PREFIX = "llmslo_exporter"


class SelfMetrics:
    def __init__(self, source: str, target: str, error_kinds: tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self._base: Labels = make_labels({"source": source, "target": target})
        self.up = 0.0
        self.last_duration = 0.0
        self.scrapes = 0
        self.resets = 0
        self.errors: Counter[str] = Counter({k: 0 for k in error_kinds})
        self._template: tuple[tuple[str, ...], list[TemplateBlock]] | None = None

    def record(self, *, up: bool, duration: float, errors: Counter[str], resets: int) -> None:
        with self._lock:
            self.up = 1.0 if up else 0.0
            self.last_duration = duration
            self.scrapes += 1
            self.errors.update(errors)
            self.resets = resets

    def blocks(self) -> list[tuple[str, str]]:
        """(family name, exposition text) per family: `write_exposition(self.families())` cut
        by family, from a template made once (the families' shape changes only with a new
        error kind), so a scrape formats a few numbers instead of writing five families."""
        with self._lock:
            kinds = tuple(sorted(self.errors))
            by_family = [[self.up], [self.last_duration], [float(self.scrapes)], [float(self.resets)],
                         [float(self.errors[k]) for k in kinds]]
        template = self._template
        if template is None or template[0] != kinds:
            template = self._template = (kinds, exposition_template(self.families()))
        out: list[tuple[str, str]] = []
        for name, pieces, positions in template[1]:
            parts = [pieces[0]]
            for (f, i), piece in zip(positions, pieces[1:], strict=True):
                parts.append(format_float(by_family[f][i]))
                parts.append(piece)
            out.append((name, "".join(parts)))
        return out

    def families(self) -> list[MetricFamily]:
        with self._lock:
            base = self._base

            def one(name: str, kind: MetricType, help_: str, value: float) -> MetricFamily:
                return MetricFamily(name, kind, help_, (Sample(name, base, value),))

            errors = f"{PREFIX}_scrape_errors_total"
            return [
                one(f"{PREFIX}_target_up", MetricType.GAUGE,
                    "1 if the last scrape of the target succeeded, else 0.", self.up),
                one(f"{PREFIX}_scrape_duration_seconds", MetricType.GAUGE,
                    "Duration of the last scrape of the target (fetch, parse, map).", self.last_duration),
                one(f"{PREFIX}_scrapes_total", MetricType.COUNTER,
                    "Scrapes of the target attempted.", float(self.scrapes)),
                one(f"{PREFIX}_counter_resets_total", MetricType.COUNTER,
                    "Counter or histogram resets of the target (restarts) absorbed or exposed.",
                    float(self.resets)),
                MetricFamily(
                    errors,
                    MetricType.COUNTER,
                    "Problems met while scraping the target, by kind; bad lines are skipped, never fatal.",
                    tuple(
                        Sample(errors, make_labels((*base, ("kind", k))), float(v))
                        for k, v in sorted(self.errors.items())
                    ),
                ),
            ]


def info_families(source: str, schema: Schema | None, notes: tuple[MappingNote, ...]) -> list[MetricFamily]:
    """`llmslo_source_schema_info` (what the target looks like) and `llmslo_sli_mapping_info`
    (which source metric gave each SLI, and how faithfully: exact, merged, ..., unavailable)."""
    out: list[MetricFamily] = []
    if schema is not None:
        name = "llmslo_source_schema_info"
        labels = make_labels(
            {
                "source": schema.source,
                "generation": schema.generation,
                "versions": schema.versions.describe(),
                "conflict": "true" if schema.conflict else "false",
            }
        )
        out.append(MetricFamily(name, MetricType.GAUGE, "The metric schema detected on the target.",
                                (Sample(name, labels, 1.0),)))
    if notes:
        name = "llmslo_sli_mapping_info"
        out.append(
            MetricFamily(
                name,
                MetricType.GAUGE,
                "Which target metric provides each canonical SLI, and how faithfully.",
                tuple(
                    Sample(
                        name,
                        make_labels(
                            {"source": source, "sli": n.sli, "source_metric": n.source_metric,
                             "fidelity": str(n.fidelity)}
                        ),
                        1.0,
                    )
                    for n in notes
                ),
            )
        )
    return out
