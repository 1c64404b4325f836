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
from dataclasses import dataclass

from exporters.pipeline import Processed, Profile, process
from exporters.selfmetrics import SelfMetrics, info_families
from exporters.upstream import FETCH_ERROR_KINDS, Fetched, FetchError
from slo.mapping import Continuity, MappingNote, Schema
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


def scrape_collector(profile: Profile, fetch: Fetch, *, extra_labels: Labels = ()) -> Collect:
    def collect() -> Processed | FetchError:
        fetched = fetch()
        if isinstance(fetched, FetchError):
            return fetched
        return process(fetched.text, profile, extra_labels=extra_labels)

    return collect


@dataclass(frozen=True, slots=True)
class Snapshot:
    families: tuple[MetricFamily, ...]
    notes: tuple[MappingNote, ...]
    schema: Schema | None
    taken_at: float


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
        families = [
            *snap.families,
            *info_families(self.source, snap.schema, snap.notes),
            *self.metrics.families(),
        ]
        return write_exposition(families)

    def _scrape(self, now: float) -> Snapshot:
        start = time.perf_counter()
        try:
            result = self._collect()
        except Exception:  # a bug must not take the sidecar down; it is logged and counted
            logger.exception("internal error while collecting %s", self.source)
            result = FetchError("internal", "internal error; see the log above")
        if isinstance(result, FetchError):
            self._log(result.kind, result.message)
            self.metrics.record(
                up=False,
                duration=time.perf_counter() - start,
                errors=Counter({result.kind: 1}),
                resets=self._continuity.resets,
            )
            return Snapshot((), (), None, now)
        families = self._continuity.apply(result.families, result.epoch)
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

    def _log(self, kind: str, message: str) -> None:
        """Once per kind: a broken target scraped every second must not flood the log."""
        if kind not in self._logged:
            self._logged.add(kind)
            logger.warning("%s scrape problem (%s): %s; further ones are only counted", self.source,
                           kind, message)
