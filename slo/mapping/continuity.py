"""Keeps canonical counters and histograms monotonic across engine restarts.

A restarted vLLM starts its counters at zero. Prometheus copes with a visible drop, but if the
engine restarts and climbs past its old value between two scrapes the reset is invisible and the
increments before the restart are lost. We detect a reset by a value going down or by the engine's
process start time changing, and carry the old value forward as an offset, so the sidecar's
output only ever grows while the sidecar lives. A histogram child is reset as a whole (buckets,
count and sum together) so its buckets stay cumulative; if its bucket layout changed the offsets
are dropped instead and the reset is left visible, because old counts cannot be placed on new
boundaries exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import add, lt

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample

ChildKey = tuple[str, Labels]
SeriesKey = tuple[str, Labels]


@dataclass(slots=True)
class _Child:
    raw: dict[tuple[str, Labels], float] = field(default_factory=dict)
    offset: dict[tuple[str, Labels], float] = field(default_factory=dict)


def child_groups(family: MetricFamily) -> list[tuple[Labels, list[int]]]:
    """A counter or histogram family's children in the order `apply` emits them: each child's
    labels (without `le`) and the indices of its samples. Shared with the compiled scrape plan so
    both paths order samples identically."""
    groups: dict[Labels, list[int]] = {}
    for i, s in enumerate(family.samples):
        key = tuple(p for p in s.labels if p[0] != "le") if s.name.endswith("_bucket") else s.labels
        groups.setdefault(key, []).append(i)
    return list(groups.items())


class ArrayState:
    """Continuity state for one fixed layout of children, as flat lists instead of dicts.

    A sidecar scraping a busy engine sees the same series every time with new values; keeping
    the raw values and offsets in lists aligned with the layout turns the per-sample dict work of
    `apply` into a few C-level `map` calls. `Continuity` attaches one at a time and writes it
    back to its dicts before anything else touches them, so both paths share one state.
    """

    __slots__ = ("has_offset", "keys", "offset", "raw", "series", "spans")

    def __init__(self, keys: list[ChildKey], series: list[SeriesKey], spans: list[tuple[int, int]]) -> None:
        self.keys = keys  # child key per child
        self.series = series  # (sample name, labels) per position
        self.spans = spans  # [start, end) positions per child
        self.raw: list[float] = []
        self.offset: list[float] = []
        self.has_offset: list[bool] = []


class Continuity:
    def __init__(self) -> None:
        self._children: dict[tuple[str, Labels], _Child] = {}
        self._epoch: float | None = None
        self._attached: ArrayState | None = None
        self.resets = 0  # number of series/children whose reset was absorbed or exposed

    # -- array mode (the compiled scrape plan) ---------------------------------------------------

    def attached(self, state: ArrayState) -> bool:
        return self._attached is state

    def attach(self, state: ArrayState) -> None:
        """Take over the dict state of `state`'s children. Only valid right after `apply` has
        seen exactly this layout (every child present with these series), which the caller
        guarantees by running `apply` on the same scrape first."""
        self._detach()
        raw: list[float] = []
        offset: list[float] = []
        has: list[bool] = []
        for key, (start, end) in zip(state.keys, state.spans, strict=True):
            child = self._children[key]
            has.append(bool(child.offset))
            for series in state.series[start:end]:
                raw.append(child.raw[series])
                offset.append(child.offset.get(series, 0.0))
        state.raw, state.offset, state.has_offset = raw, offset, has
        self._attached = state

    def apply_values(self, state: ArrayState, values: list[float], epoch: float | None) -> list[float]:
        """`apply` for the attached layout: `values` in layout order in, offset values out."""
        restarted = epoch is not None and self._epoch is not None and epoch != self._epoch
        if epoch is not None:
            self._epoch = epoch
        raw, offset = state.raw, state.offset
        if restarted or any(map(lt, values, raw)):
            for c, (start, end) in enumerate(state.spans):
                if restarted or any(map(lt, values[start:end], raw[start:end])):
                    self.resets += 1
                    state.has_offset[c] = True
                    offset[start:end] = map(add, offset[start:end], raw[start:end])
        state.raw = values
        return list(map(add, values, offset))

    def _detach(self) -> None:
        state, self._attached = self._attached, None
        if state is None:
            return
        for c, (key, (start, end)) in enumerate(zip(state.keys, state.spans, strict=True)):
            child = self._children.setdefault(key, _Child())
            series = state.series[start:end]
            child.raw = dict(zip(series, state.raw[start:end], strict=True))
            child.offset = (
                dict(zip(series, state.offset[start:end], strict=True)) if state.has_offset[c] else {}
            )

    # -- family mode -------------------------------------------------------------------------------

    def apply(self, families: tuple[MetricFamily, ...], epoch: float | None = None) -> tuple[MetricFamily, ...]:
        """`epoch` is the source's process start time; a change means every counter restarted."""
        self._detach()
        restarted = epoch is not None and self._epoch is not None and epoch != self._epoch
        if epoch is not None:
            self._epoch = epoch
        out: list[MetricFamily] = []
        for family in families:
            if family.type is MetricType.COUNTER or family.type is MetricType.HISTOGRAM:
                out.append(self._apply_family(family, restarted))
            else:
                out.append(family)
        return tuple(out)

    def _apply_family(self, family: MetricFamily, restarted: bool) -> MetricFamily:
        samples: list[Sample] = []
        for child_labels, members in child_groups(family):
            samples.extend(
                self._apply_child((family.name, child_labels), [family.samples[i] for i in members], restarted)
            )
        return MetricFamily(family.name, family.type, family.help, tuple(samples))

    def _apply_child(
        self, key: tuple[str, Labels], members: list[Sample], restarted: bool
    ) -> list[Sample]:
        state = self._children.setdefault(key, _Child())
        current = {(s.name, s.labels): s.value for s in members}
        if state.raw:
            same_layout = current.keys() == state.raw.keys()
            went_down = any(v < state.raw.get(k, 0.0) for k, v in current.items())
            if not same_layout:
                # New or vanished buckets: old counts cannot be placed exactly, so show the reset.
                if state.offset or went_down or restarted:
                    self.resets += 1
                state.offset.clear()
            elif restarted or went_down:
                self.resets += 1
                for k, v in state.raw.items():
                    state.offset[k] = state.offset.get(k, 0.0) + v
        state.raw = current
        return [Sample(s.name, s.labels, s.value + state.offset.get((s.name, s.labels), 0.0)) for s in members]
