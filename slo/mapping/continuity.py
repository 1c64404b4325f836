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

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample


@dataclass(slots=True)
class _Child:
    raw: dict[tuple[str, Labels], float] = field(default_factory=dict)
    offset: dict[tuple[str, Labels], float] = field(default_factory=dict)


class Continuity:
    def __init__(self) -> None:
        self._children: dict[tuple[str, Labels], _Child] = {}
        self._epoch: float | None = None
        self.resets = 0  # number of series/children whose reset was absorbed or exposed

    def apply(self, families: tuple[MetricFamily, ...], epoch: float | None = None) -> tuple[MetricFamily, ...]:
        """`epoch` is the source's process start time; a change means every counter restarted."""
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
        groups: dict[Labels, list[Sample]] = {}
        for s in family.samples:
            key = tuple(p for p in s.labels if p[0] != "le") if s.name.endswith("_bucket") else s.labels
            groups.setdefault(key, []).append(s)
        samples: list[Sample] = []
        for child_labels, members in groups.items():
            samples.extend(self._apply_child((family.name, child_labels), members, restarted))
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
