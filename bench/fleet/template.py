"""The vLLM 0.32 exposition layout, taken from a real capture instead of typed out by hand.

`data/vllm-0.32-metrics.prom` is a byte-for-byte copy of the real capture
`shared/fixtures/vllm-0.32-cpu/metrics-after-21-requests.prom` (a test keeps them equal). Reusing
it as the template means every HELP text, TYPE line, label order, bucket layout and the
`_total`/`_created` conventions are exactly what vLLM 0.32 writes; the simulator only supplies the
numbers. The layout is compiled once into "text before each value" chunks, so rendering a pod's
body is one join over pre-built strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

TEMPLATE_PATH: Final = Path(__file__).resolve().parent / "data" / "vllm-0.32-metrics.prom"
TEMPLATE_MODEL: Final = "tiny"
# The labels the simulator rewrites per pod; every other label is kept as vLLM wrote it.
POD_LABELS: Final = frozenset({"model_name", "engine"})

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{.*\})? (?P<value>\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]
"""(series name, labels sorted by name without model_name/engine/le): how the simulator addresses a value."""


class TemplateError(ValueError):
    """The template text is not the exposition shape this module understands."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One sample line of the template."""

    series: str  # `vllm:time_to_first_token_seconds_bucket`
    family: str  # the TYPE-declared family the line belongs to
    mtype: str  # that family's TYPE
    labels: Labels  # every label, in the template's order
    raw_labels: str  # `{engine="0",le="0.1",model_name="tiny"}` or ""
    value: float  # the template's own value (kept for series the simulator does not drive)

    def key(self) -> SeriesKey:
        return self.series, tuple(sorted((k, v) for k, v in self.labels if k not in POD_LABELS and k != "le"))

    def le(self) -> float | None:
        for k, v in self.labels:
            if k == "le":
                return float(v)
        return None


@dataclass(frozen=True, slots=True)
class Histogram:
    """Where one histogram series set sits in the layout; buckets in `le` order, +Inf last."""

    family: str
    labels: Labels  # without model_name/engine
    bounds: tuple[float, ...]  # finite upper bounds
    bucket_slots: tuple[int, ...]  # len(bounds) + 1
    sum_slot: int
    count_slot: int


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """Hashed by identity (it holds mappings), so plans can be cached per layout."""

    slots: tuple[Slot, ...]
    before: tuple[str, ...]  # text preceding each slot's value (HELP/TYPE lines, series and labels)
    tail: str  # comment lines after the last sample (none in real captures)
    histograms: Mapping[tuple[str, Labels], Histogram]  # (family, labels) -> histogram
    index: Mapping[SeriesKey, int]  # every non-histogram sample -> slot

    def slot_of(self, series: str, **labels: str) -> int:
        key = (series, tuple(sorted(labels.items())))
        if key not in self.index:
            raise KeyError(f"{series}{labels} is not in the vLLM 0.32 template")
        return self.index[key]

    def histogram(self, family: str, **labels: str) -> Histogram:
        key = (family, tuple(sorted(labels.items())))
        if key not in self.histograms:
            raise KeyError(f"histogram {family}{labels} is not in the vLLM 0.32 template")
        return self.histograms[key]

    def defaults(self) -> list[float]:
        return [s.value for s in self.slots]


def _parse_labels(raw: str, line_no: int) -> Labels:
    if not raw:
        return ()
    inner = raw[1:-1]
    pairs = _LABEL.findall(inner)
    rebuilt = ",".join(f'{k}="{v}"' for k, v in pairs)
    if rebuilt != inner:
        raise TemplateError(f"template line {line_no}: labels {raw[:80]!r} are not plain name=\"value\" pairs")
    return tuple((k, v) for k, v in pairs)


def compile_layout(text: str) -> Layout:
    """Split the template into value slots. Only the subset of the text format that
    prometheus_client writes is accepted; anything else is a TemplateError with its line."""
    slots: list[Slot] = []
    before: list[str] = []
    pending: list[str] = []
    family = ""
    mtype = "untyped"
    for line_no, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                family, mtype = parts[2], parts[3]
            pending.append(line + "\n")
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise TemplateError(f"template line {line_no}: not a sample line: {line[:80]!r}")
        raw = match["labels"] or ""
        pending.append(f"{match['name']}{raw} ")
        before.append("".join(pending))
        pending = []
        slots.append(Slot(match["name"], family, mtype, _parse_labels(raw, line_no), raw, float(match["value"])))
    index: dict[SeriesKey, int] = {}
    groups: dict[tuple[str, Labels], dict[str, list[int]]] = {}
    for i, slot in enumerate(slots):
        if slot.mtype == "histogram":
            key = (slot.family, slot.key()[1])
            suffix = slot.series[len(slot.family):]
            groups.setdefault(key, {}).setdefault(suffix, []).append(i)
        else:
            index[slot.key()] = i
    histograms: dict[tuple[str, Labels], Histogram] = {}
    for (fam, labels), by_suffix in groups.items():
        buckets = by_suffix.get("_bucket", [])
        les = [le for le in (slots[i].le() for i in buckets) if le is not None]
        if (not buckets or len(les) != len(buckets) or les[-1] != float("inf") or les != sorted(les)
                or len(by_suffix.get("_sum", [])) != 1 or len(by_suffix.get("_count", [])) != 1):
            raise TemplateError(f"histogram {fam}{dict(labels)}: buckets must carry le, be sorted and end at +Inf,"
                                " with one _sum and one _count")
        bounds = tuple(les[:-1])
        histograms[(fam, labels)] = Histogram(
            fam, labels, bounds, tuple(buckets), by_suffix["_sum"][0], by_suffix["_count"][0]
        )
    return Layout(tuple(slots), tuple(before), "".join(pending), histograms, index)


@lru_cache(maxsize=1)
def vllm_032_layout() -> Layout:
    return compile_layout(TEMPLATE_PATH.read_text(encoding="utf-8"))
