"""A sidecar: scrape the upstream when we are scraped, map to canonical SLIs, answer.

Reading on demand (as client_python's custom collectors do) means no background loop burns
CPU between scrapes and every answer is fresh. Concurrent scrapes (an HA Prometheus pair) within
`min_interval` share one upstream fetch. Whatever the upstream does, `render()` answers: when the
target is down only the exporter's own metrics are served, with `llmslo_exporter_target_up 0`,
so the SLI series go stale in Prometheus instead of repeating old values.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from exporters.pipeline import Processed, Profile, compiled_scraper, process
from exporters.selfmetrics import SelfMetrics, info_families
from exporters.upstream import FETCH_ERROR_KINDS, Fetched, FetchError
from slo.mapping import Continuity, MappingNote, Schema
from slo.mapping.compiled import CompiledScraper, PlanOutcome
from slo.metrics.model import Labels, MetricFamily
from slo.metrics.parse import ParseErrorKind
from slo.metrics.write import write_exposition

logger = logging.getLogger("llmslo.exporter")

MAPPING_ERROR_KINDS = ("histogram_inconsistent", "type_mismatch", "invalid_value")
ERROR_KINDS = tuple(
    sorted({*FETCH_ERROR_KINDS, *(str(k) for k in ParseErrorKind), *MAPPING_ERROR_KINDS, "internal"})
)

Fetch = Callable[[], Fetched | FetchError]
Collect = Callable[[], Processed | FetchError]
"""What a sidecar reads from: an upstream scrape mapped by `process`, or NVML read directly."""


class ScrapeCollector:
    """A `Collect` over an upstream exposition. Called, it fetches and runs `process`; a
    `Sidecar` instead calls `fetch` and `compiled` itself, so a body shaped like an earlier one
    skips parsing, mapping and writing (same output, byte for byte; see slo.mapping.compiled)."""

    def __init__(self, profile: Profile, fetch: Fetch, extra_labels: Labels) -> None:
        self.profile = profile
        self.fetch = fetch
        self.extra_labels = extra_labels
        self.compiled: CompiledScraper = compiled_scraper(profile, extra_labels=extra_labels)

    def __call__(self) -> Processed | FetchError:
        fetched = self.fetch()
        if isinstance(fetched, FetchError):
            return fetched
        return self.process(fetched.text)

    def process(self, text: str) -> Processed:
        return process(text, self.profile, extra_labels=self.extra_labels)


def scrape_collector(profile: Profile, fetch: Fetch, *, extra_labels: Labels = ()) -> Collect:
    return ScrapeCollector(profile, fetch, extra_labels)


class Snapshot:
    """One scrape's canonical answer. From a compiled plan the families are built only when
    asked for (the OTLP pusher does; the /metrics path uses the plan's ready text)."""

    __slots__ = ("_families", "_outcome", "notes", "schema", "taken_at")

    def __init__(
        self,
        families: tuple[MetricFamily, ...] | None,
        notes: tuple[MappingNote, ...],
        schema: Schema | None,
        taken_at: float,
        outcome: PlanOutcome | None = None,
    ) -> None:
        self._families = families
        self._outcome = outcome
        self.notes = notes
        self.schema = schema
        self.taken_at = taken_at

    @property
    def families(self) -> tuple[MetricFamily, ...]:
        if self._families is None:
            self._families = self._outcome.families() if self._outcome is not None else ()
        return self._families

    @property
    def blocks(self) -> list[tuple[str, str]] | None:
        """(family name, exposition text) per canonical family, sorted, when a plan made them."""
        return None if self._outcome is None else self._outcome.blocks


_NO_ERRORS: Counter[str] = Counter()


def _block_name(block: tuple[str, str]) -> str:
    return block[0]


class Sidecar:
    def __init__(
        self,
        source: str,
        collect: Collect,
        *,
        target: str,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._collect = collect
        self._min_interval = min_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._continuity = Continuity()
        self._snapshot: Snapshot | None = None
        self._logged: set[str] = set()
        self._info: tuple[Schema | None, tuple[MappingNote, ...], list[tuple[str, str]]] | None = None
        self.metrics = SelfMetrics(source, target, ERROR_KINDS)

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._clock()
            if self._snapshot is not None and now - self._snapshot.taken_at < self._min_interval:
                return self._snapshot
            self._snapshot = self._scrape(now)
            return self._snapshot

    def render(self) -> str:
        snap = self.snapshot()
        blocks = snap.blocks
        if blocks is None:
            families = [
                *snap.families,
                *info_families(self.source, snap.schema, snap.notes),
                *self.metrics.families(),
            ]
            return write_exposition(families)
        # The same text as above, assembled from per-family blocks: the plan's, the info
        # families' (unchanged while the schema and notes are) and the self-metrics'.
        out = [*blocks, *self._info_blocks(snap), *self.metrics.blocks()]
        out.sort(key=_block_name)
        return "".join([text for _, text in out])

    def _info_blocks(self, snap: Snapshot) -> list[tuple[str, str]]:
        cached = self._info
        if cached is not None and cached[0] is snap.schema and cached[1] is snap.notes:
            return cached[2]
        blocks = [(f.name, write_exposition((f,))) for f in info_families(self.source, snap.schema, snap.notes)]
        self._info = (snap.schema, snap.notes, blocks)
        return blocks

    def _scrape(self, now: float) -> Snapshot:
        start = time.perf_counter()
        collect = self._collect
        if isinstance(collect, ScrapeCollector):
            return self._scrape_compiled(collect, now, start)
        try:
            result = self._collect()
        except Exception:  # a bug must not take the sidecar down; it is logged and counted
            logger.exception("internal error while collecting %s", self.source)
            result = FetchError("internal", "internal error; see the log above")
        if isinstance(result, FetchError):
            return self._failed(result, now, start)
        families = self._continuity.apply(result.families, result.epoch)
        return self._finish(result, families, now, start)

    def _finish(self, result: Processed, families: tuple[MetricFamily, ...], now: float, start: float) -> Snapshot:
        for kind, message in result.messages.items():
            self._log(kind, message)
        # A body that yielded nothing but errors (an HTML page, garbage) is a failed scrape, as
        # Prometheus would judge it; a clean body with no engine metrics yet is not.
        usable = bool(result.families) or not result.errors
        self.metrics.record(
            up=usable,
            duration=time.perf_counter() - start,
            errors=result.errors,
            resets=self._continuity.resets,
        )
        return Snapshot(families, result.notes, result.schema, now)

    def _scrape_compiled(self, collect: ScrapeCollector, now: float, start: float) -> Snapshot:
        try:
            fetched = collect.fetch()
            if isinstance(fetched, FetchError):
                return self._failed(fetched, now, start)
            text = fetched.text
            outcome = collect.compiled.scrape(text, self._continuity)
            if outcome is None:
                result = collect.process(text)
                families = self._continuity.apply(result.families, result.epoch)
                collect.compiled.learn(
                    text, result.families, result.notes, result.schema, not result.errors, families,
                    self._continuity,
                )
                return self._finish(result, families, now, start)
        except Exception:  # a bug must not take the sidecar down; it is logged and counted
            logger.exception("internal error while collecting %s", self.source)
            return self._failed(FetchError("internal", "internal error; see the log above"), now, start)
        self.metrics.record(up=True, duration=time.perf_counter() - start, errors=_NO_ERRORS,
                            resets=self._continuity.resets)
        return Snapshot(None, outcome.notes, outcome.schema, now, outcome)

    def _failed(self, error: FetchError, now: float, start: float) -> Snapshot:
        self._log(error.kind, error.message)
        self.metrics.record(
            up=False,
            duration=time.perf_counter() - start,
            errors=Counter({error.kind: 1}),
            resets=self._continuity.resets,
        )
        return Snapshot((), (), None, now)

    def _log(self, kind: str, message: str) -> None:
        """Once per kind: a broken target scraped every second must not flood the log."""
        if kind not in self._logged:
            self._logged.add(kind)
            logger.warning("%s scrape problem (%s): %s; further ones are only counted", self.source,
                           kind, message)
