"""A scrape plan: the whole parse -> map -> continuity -> write path compiled for one body shape.

A sidecar scrapes the same engine every second. Between two scrapes of a busy vLLM every value
changes, but the text around the values (names, labels, HELP/TYPE lines) almost never does. So
the first scrape of a shape runs the ordinary path (`parse_exposition`, `map_to_canonical`,
`Continuity.apply`, `write_exposition`) and a plan is compiled from it: which value slot of the
body feeds which canonical sample (with which unit scale), which checks the values must pass
for the ordinary path to have taken the same branches, and the output text around each value.
Later scrapes of the same shape split the body into lines, compare the comment lines whole and
check that each sample line starts with its head, convert the kept values and fill them in.

The plan never decides anything the ordinary path would decide differently:
- it is built by running the ordinary mapper itself on values that remember their slot
  (`_Traced`), so it records the mapper's data flow rather than re-implementing it;
- it is used only when the body's text outside the values is identical (the value of a line
  the parser skips by name, python_gc_* say, may be anything: the parser never reads past a
  skipped line's name, and no `keep` prefix can reach past a head), every value is a
  number the parser accepts, no histogram child would be rejected and no counter is negative or
  NaN; anything else (an error, a new series, a reset layout) takes the ordinary path;
- it is checked at build time: its output on the body it was built from must equal the
  ordinary path's byte for byte, or it is discarded (and the shape remembered as unplannable).

The match and the number conversion run in C when the optional extension is built
(`slo.mapping._planscan`): at one scrape a second they ran with cold caches and were most of a
sidecar's CPU. The C matcher accepts a strict subset of what `_Plan.match` and `float()` accept
and answers None otherwise, so the Python match below stays the reference and the fallback.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import getitem, itemgetter, le
from typing import TypeVar

from slo.catalog import Instrument, SourceKind, get
from slo.mapping.continuity import ArrayState, ChildKey, Continuity, SeriesKey, child_groups
from slo.mapping.mapper import MappingNote, MappingResult, map_to_canonical
from slo.mapping.schema import Schema
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample
from slo.metrics.parse import parse_exposition
from slo.metrics.write import exposition_template, format_float, write_exposition

try:  # the C version of the per-scrape match, built by setup.py where a C compiler is available
    from slo.mapping._planscan import Matcher
except ImportError:  # pragma: no cover - exercised on machines without a compiler
    Matcher = None  # type: ignore[assignment,misc]

__all__ = ["CompiledScraper", "PlanOutcome"]

_T = TypeVar("_T")

_HEAD = itemgetter(0)
_RPARTITION = str.rpartition
_STARTSWITH = str.startswith
_SPACES = repeat(" ")


Parts = list[tuple[str, str, str]]


def _split(text: str) -> tuple[list[str], Parts]:
    """Each line's head (up to its last space), and each line as (head, " ", tail): the tail is
    the value of a sample line, the last word of a comment. C-level loops only: this runs on
    every scrape, and tails are only picked out where a plan needs them."""
    parts = list(map(_RPARTITION, text.split("\n"), _SPACES))
    return list(map(_HEAD, parts)), parts

_PLANS_KEPT = 4  # shapes remembered (a target alternating between a few shapes stays fast)

_MONOTONIC = (MetricType.COUNTER, MetricType.HISTOGRAM)


class _Traced(float):
    """A float that remembers which body slot it came from and what it was multiplied by, so
    running the real mapper over traced values shows where each output value comes from."""

    slot: int
    factors: tuple[float, ...]

    def __mul__(self, other: float) -> float:
        out = _Traced(float(self) * other)
        out.slot = self.slot
        out.factors = (*self.factors, other)
        return out


def _traced(value: float, slot: int) -> _Traced:
    out = _Traced(value)
    out.slot = slot
    out.factors = ()
    return out


@dataclass(slots=True)
class PlanOutcome:
    """One scrape done by a plan: canonical families on demand, the text blocks ready."""

    plan: _Plan
    values: list[float]  # canonical values after continuity, in plan position order
    blocks: list[tuple[str, str]]  # (family name, exposition text), sorted by name

    @property
    def notes(self) -> tuple[MappingNote, ...]:
        return self.plan.notes

    @property
    def schema(self) -> Schema:
        return self.plan.schema

    def families(self) -> tuple[MetricFamily, ...]:
        return self.plan.families(self.values)


class _Plan:
    __slots__ = (
        "_blocks", "_count_checks", "_counter_ranks", "_cuts", "_epoch_rank", "_family_shapes", "_fixed",
        "_fixed_lines", "_hist_checks", "_kept", "_lines", "_meta", "_nlines", "_prefixes", "_scaled", "_source",
        "notes", "scan", "schema", "skeleton", "state",
    )

    def __init__(
        self,
        skeleton: list[str],
        text_slots: list[int],
        text_values: list[str],
        sample_slots: list[int],
        source: list[int],
        scaled: list[tuple[int, tuple[float, ...]]],
        hist_checks: list[tuple[int, ...]],
        count_checks: list[tuple[int, int]],
        counter_ranks: list[int],
        epoch_rank: int | None,
        family_shapes: list[tuple[str, MetricType, str, int, list[tuple[str, Labels]]]],
        blocks: list[tuple[str, list[str], list[int]]],
        state: ArrayState,
        notes: tuple[MappingNote, ...],
        schema: Schema,
    ) -> None:
        self.skeleton = skeleton
        # Lines compared whole (comments, and the empty text after the final newline) and lines
        # split into head and value (samples, kept or not): only the latter pay for a split.
        fixed = set(text_slots)
        fixed.add(len(skeleton) - 1)
        self._nlines = len(skeleton)
        self._fixed = _getter(sorted(fixed))
        self._fixed_lines = tuple(text_values)
        lines = [i for i in range(len(skeleton)) if i not in fixed]
        self._lines = _getter(lines)
        # A sample line matches when it starts with its head and a space. For a kept line the
        # rest is its value, which must hold no space (else the head would end later); a line
        # the parser skips (its name matches no `keep` prefix, which holds no space, so no longer
        # head can match one either) may end in anything: the parser never reads past the name.
        self._prefixes = tuple(skeleton[i] + " " for i in lines)
        self.scan = _matcher(skeleton, dict(zip(sorted(fixed), text_values, strict=True)), set(sample_slots))
        self._kept = _getter(sample_slots)
        self._cuts = tuple(slice(len(skeleton[slot]) + 1, None) for slot in sample_slots)
        self._source = _getter(source)
        self._scaled = scaled
        self._hist_checks = [_getter(list(c)) for c in hist_checks]
        self._count_checks = count_checks
        self._counter_ranks = _getter(counter_ranks)
        self._epoch_rank = None if epoch_rank is None else sample_slots.index(epoch_rank)
        self._family_shapes = family_shapes
        # Each block also as one %-format string: `fmt % values` is `repr` of each value between
        # the pieces, in one C-level call.
        self._blocks = [
            (name, "%r".join([p.replace("%", "%%") for p in pieces]), pieces, _getter(positions))
            for name, pieces, positions in blocks
        ]
        self._meta = len(counter_ranks)
        self.state = state
        self.notes = notes
        self.schema = schema

    def match(self, lines: list[str]) -> tuple[str, ...] | None:
        """The kept sample lines' value texts, if `lines` have exactly this plan's text outside
        the values (see `__init__` for lines the parser skips); else None."""
        if len(lines) != self._nlines or self._fixed(lines) != self._fixed_lines:
            return None
        if not all(map(_STARTSWITH, self._lines(lines), self._prefixes)):
            return None
        return tuple(map(getitem, self._kept(lines), self._cuts))

    def values(self, texts: tuple[str, ...]) -> list[float] | None:
        """The body's numbers as the mapper would produce them, or None if the ordinary path
        would branch differently (an unparseable value, a histogram or counter it rejects).
        `texts`: what `match` returned."""
        joined = "".join(texts)
        if not joined.isascii() or "_" in joined or " " in joined:
            return None  # a space: the value is not the line's last word; the others the parser rejects
        try:
            numbers = list(map(float, texts))
        except ValueError:
            return None
        return self.checked(numbers)

    def checked(self, numbers: list[float]) -> list[float] | None:
        """`values` once the texts are numbers (from `float` here, or from `scan`)."""
        for check in self._hist_checks:
            buckets = check(numbers)
            if not all(map(le, (0.0, *buckets), buckets)):
                return None  # NaN or a bucket below the previous one: the mapper drops the child
        for count, inf in self._count_checks:
            if numbers[count] != numbers[inf]:
                return None
        if self._meta:
            for v in self._counter_ranks(numbers):
                if v != v or v < 0:
                    return None
        out = list(self._source(numbers))
        for position, factors in self._scaled:
            v = out[position]
            for f in factors:
                v = v * f
            out[position] = v
        return out

    def epoch(self, texts: tuple[str, ...]) -> float | None:
        return None if self._epoch_rank is None else float(texts[self._epoch_rank])

    def epoch_of(self, numbers: list[float]) -> float | None:
        return None if self._epoch_rank is None else numbers[self._epoch_rank]

    def render(self, values: list[float]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, fmt, pieces, positions in self._blocks:
            numbers = positions(values)
            if _plain(numbers):
                out.append((name, fmt % numbers))
                continue
            texts = list(map(format_float, numbers))
            parts: list[str] = [""] * (2 * len(texts) + 1)
            parts[0::2] = pieces
            parts[1::2] = texts
            out.append((name, "".join(parts)))
        return out

    def matches(self, families: tuple[MetricFamily, ...]) -> bool:
        """Whether `families` (continuity's answer) have exactly this plan's output shape."""
        if len(families) != len(self._family_shapes):
            return False
        for (name, mtype, _, _, series), family in zip(self._family_shapes, families, strict=True):
            if family.name != name or family.type is not mtype or len(family.samples) != len(series):
                return False
            if [(s.name, s.labels) for s in family.samples] != series:
                return False
        return True

    def positions(self, families: tuple[MetricFamily, ...]) -> list[float]:
        """Values of families shaped like this plan's output (continuity's answer), by position."""
        out = [0.0] * sum(len(shape[4]) for shape in self._family_shapes)
        for shape, family in zip(self._family_shapes, families, strict=True):
            at = shape[3]
            out[at : at + len(family.samples)] = [s.value for s in family.samples]
        return out

    def families(self, values: list[float]) -> tuple[MetricFamily, ...]:
        return tuple(
            MetricFamily(
                name, mtype, help_, tuple(Sample(n, labels, values[at + i]) for i, (n, labels) in enumerate(series))
            )
            for name, mtype, help_, at, series in self._family_shapes
        )


def _matcher(skeleton: list[str], fixed: dict[int, str], kept: set[int]) -> Callable[[str], list[float] | None] | None:
    """`Matcher(...).numbers` for this plan's lines (see `_Plan.__init__`), None without the C
    extension."""
    if Matcher is None:
        return None
    kinds = bytes(0 if i in fixed else 1 if i in kept else 2 for i in range(len(skeleton)))
    # Lines of a body split at "\n": no text holds one, as Matcher requires.
    texts = tuple((fixed[i] if i in fixed else skeleton[i] + " ").encode("utf-8", "surrogatepass")
                  for i in range(len(skeleton)))
    return Matcher(kinds, texts).numbers


def _plain(values: tuple[float, ...]) -> bool:
    """Whether `format_float` of each value is its `repr`: true for every finite value below 1e6
    (Go's exponent form starts there), so for a block whose sum is finite (no NaN or infinity)
    and whose maximum is below 1e6."""
    if not values:
        return True
    total = sum(values)
    return total - total == 0.0 and max(values) < 1e6


def _getter(indices: list[int]) -> Callable[[list[_T]], tuple[_T, ...]]:
    """`itemgetter` that always returns a tuple (it returns a bare item for one index)."""
    if not indices:
        return lambda _: ()
    if len(indices) == 1:
        only = indices[0]
        return lambda seq: (seq[only],)
    return itemgetter(*indices)


class CompiledScraper:
    """Per target (one profile and set of extra labels): the plans for the shapes it served."""

    def __init__(
        self,
        *,
        keep: tuple[str, ...],
        kind: SourceKind,
        extra_labels: Labels,
        detect: Callable[[Mapping[str, MetricFamily]], Schema],
        epoch_metric: str,
    ) -> None:
        self._keep = keep
        self._kind = kind
        self._extra = extra_labels
        self._detect = detect
        self._epoch_metric = epoch_metric
        self._plan: _Plan | None = None
        self._plans: OrderedDict[str, _Plan | None] = OrderedDict()
        self._last: tuple[str, PlanOutcome] | None = None

    def scrape(self, text: str, continuity: Continuity) -> PlanOutcome | None:
        """The canonical result for `text` through a plan, with `continuity` applied, or None
        when no plan fits: the caller then takes the ordinary path and offers its result to
        `learn`."""
        last = self._last
        if last is not None and last[0] == text and continuity.attached(last[1].plan.state):
            # Byte-identical body: same values, so continuity has nothing to do (no value went
            # down, the epoch is the same) and the previous answer is this one.
            return last[1]
        if not text.endswith("\n"):
            return None
        plan = self._plan
        numbers = None if plan is None or plan.scan is None else plan.scan(text)
        if plan is not None and numbers is not None:
            values = plan.checked(numbers)
            epoch = plan.epoch_of(numbers)
        else:
            lines = text.split("\n")
            parts = None if plan is None else plan.match(lines)
            if plan is None or parts is None:
                # Not the current shape: maybe one seen before.
                key = "\n".join(map(_HEAD, map(_RPARTITION, lines, _SPACES)))
                found = self._plans.get(key)
                if found is None:
                    return None
                parts = found.match(lines)
                if parts is None:
                    return None
                self._plans.move_to_end(key)
                plan = found
            values = plan.values(parts)
            if values is None:
                return None
            epoch = plan.epoch(parts)
        if values is None:
            return None
        state = plan.state
        if continuity.attached(state):
            split = len(state.series)
            out = continuity.apply_values(state, values[:split], epoch)
            out += values[split:]
        else:
            # Another shape had the state: run the ordinary continuity once on this layout,
            # then take its state over.
            applied = continuity.apply(plan.families(values), epoch)
            continuity.attach(state)
            out = plan.positions(applied)
        self._plan = plan
        outcome = PlanOutcome(plan, out, plan.render(out))
        self._last = (text, outcome)
        return outcome

    def learn(
        self,
        text: str,
        mapped: tuple[MetricFamily, ...],
        notes: tuple[MappingNote, ...],
        schema: Schema,
        clean: bool,
        applied: tuple[MetricFamily, ...],
        continuity: Continuity,
    ) -> None:
        """After the ordinary path handled `text` (`mapped` its canonical families, `clean` when
        it met no parse or mapping problem, `applied` what continuity made of them), compile a
        plan for its shape if it has none yet. Call it after every ordinary scrape."""
        self._last = None
        if not text.endswith("\n"):
            return
        skeleton, parts = _split(text)
        key = "\n".join(skeleton)
        if key in self._plans:
            plan = self._plans[key]
            if plan is None or plan.skeleton != skeleton:
                return
        else:
            plan = None
            if clean:
                try:
                    plan = self._build(skeleton, parts, mapped, notes, schema, applied)
                except _NoPlan:
                    plan = None
            self._plans[key] = plan
            while len(self._plans) > _PLANS_KEPT:
                self._plans.popitem(last=False)
            if plan is None:
                return
        if plan.matches(applied):
            # `applied` is continuity's answer for exactly this layout: take the state over.
            continuity.attach(plan.state)
            self._plan = plan

    def _build(
        self,
        skeleton: list[str],
        parts: Parts,
        mapped: tuple[MetricFamily, ...],
        notes: tuple[MappingNote, ...],
        schema: Schema,
        applied: tuple[MetricFamily, ...],
    ) -> _Plan:
        keep = self._keep
        if any(not p or any(c.isspace() for c in p) for p in keep):
            raise _NoPlan  # `match` relies on no kept name reaching past a line's head
        slots = [tail for _, _, tail in parts]
        text_slots: list[int] = []
        sample_slots: list[int] = []
        for i, head in enumerate(skeleton[:-1]):
            # An empty head (a line without a space) would let " x" and "x" look alike.
            if not head or head[0].isspace():
                raise _NoPlan
            if head[0] == "#":
                text_slots.append(i)
            elif head.startswith(keep):
                sample_slots.append(i)
        if not sample_slots:
            raise _NoPlan
        rank_of = {slot: rank for rank, slot in enumerate(sample_slots)}
        # Parse the body with each kept value replaced by its slot number: the parse does not
        # depend on values once they are numbers, so this shows which sample each slot became.
        probe = list(slots)
        for slot in sample_slots:
            probe[slot] = str(slot)
        text = "\n".join([f"{head} {tail}" for head, tail in zip(skeleton[:-1], probe, strict=False)]) + "\n"
        parsed = parse_exposition(text, keep=keep, require_final_newline=True)
        if parsed.errors:
            raise _NoPlan
        numbers = [float(slots[s]) for s in sample_slots]
        seen: set[int] = set()
        traced: dict[str, MetricFamily] = {}
        for name, family in parsed.families.items():
            samples = []
            for s in family.samples:
                slot = int(s.value)
                if slot not in rank_of or slot in seen:
                    raise _NoPlan
                seen.add(slot)
                samples.append(Sample(s.name, s.labels, _traced(numbers[rank_of[slot]], rank_of[slot])))
            traced[name] = MetricFamily(name, family.type, family.help, tuple(samples))
        if len(seen) != len(sample_slots):
            raise _NoPlan
        result = map_to_canonical(traced, self._kind, extra_labels=self._extra)
        if result.issues or result.notes != notes or self._detect(traced) != schema:
            raise _NoPlan
        # Data flow: each canonical sample's source slot and scale factors.
        source_of: dict[tuple[str, SeriesKey], _Traced] = {}
        for family in result.families:
            for s in family.samples:
                key = (family.name, (s.name, s.labels))
                if not isinstance(s.value, _Traced) or key in source_of:
                    raise _NoPlan  # the mapper computed something, or two samples share a series
                source_of[key] = s.value
        hist_checks, count_checks, counter_ranks = self._checks(traced, result)
        # Positions: every canonical sample gets one, counters and histograms first (they are
        # continuity's array, a prefix of the values), each family's samples in the order
        # continuity emits them (children grouped), which is also the order of `applied`.
        families = list(result.families)
        ordered: list[MetricFamily] = []
        for family in families:
            if family.type in _MONOTONIC:
                order = [i for _, members in child_groups(family) for i in members]
                family = MetricFamily(family.name, family.type, family.help, tuple(family.samples[i] for i in order))
            ordered.append(family)
        sequence = sorted(range(len(ordered)), key=lambda f: ordered[f].type not in _MONOTONIC)
        start: dict[int, int] = {}
        source: list[int] = []
        scaled: list[tuple[int, tuple[float, ...]]] = []
        keys: list[ChildKey] = []
        series: list[SeriesKey] = []
        spans: list[tuple[int, int]] = []
        for f in sequence:
            family = ordered[f]
            start[f] = len(source)
            if family.type in _MONOTONIC:
                for child_labels, members in child_groups(family):
                    keys.append((family.name, child_labels))
                    spans.append((len(series), len(series) + len(members)))
                    series.extend((family.samples[i].name, family.samples[i].labels) for i in members)
            for s in family.samples:
                t = source_of[(family.name, (s.name, s.labels))]
                if t.factors:
                    scaled.append((len(source), t.factors))
                source.append(t.slot)
        shapes = [
            (family.name, family.type, family.help, start[f], [(s.name, s.labels) for s in family.samples])
            for f, family in enumerate(ordered)
        ]
        state = ArrayState(keys, series, spans)
        template = exposition_template(ordered)
        blocks = [(name, pieces, [start[f] + i for f, i in positions]) for name, pieces, positions in template]
        epoch_family = traced.get(self._epoch_metric)
        epoch_rank = None
        if epoch_family is not None and epoch_family.samples:
            value = epoch_family.samples[0].value
            epoch_rank = sample_slots[_rank(value)]
        plan = _Plan(
            skeleton, text_slots, ["".join(parts[i]) for i in sorted({*text_slots, len(skeleton) - 1})],
            sample_slots, source, scaled, hist_checks,
            count_checks, counter_ranks, epoch_rank, shapes, blocks, state, result.notes, schema,
        )
        # The proof: on this very body the plan must reproduce the ordinary path byte for byte.
        matched = plan.match(["".join(p) for p in parts])
        values = None if matched is None else plan.values(matched)
        if values is None or not plan.matches(applied):
            raise _NoPlan
        if write_exposition(plan.families(values)) != write_exposition(mapped):
            raise _NoPlan
        current = plan.positions(applied)
        if "".join(t for _, t in plan.render(current)) != write_exposition(applied):
            raise _NoPlan
        return plan

    def _checks(
        self, traced: Mapping[str, MetricFamily], result: MappingResult
    ) -> tuple[list[tuple[int, ...]], list[tuple[int, int]], list[int]]:
        """The value checks under which the mapper takes the branches it took at build time."""
        hist: list[tuple[int, ...]] = []
        counts: list[tuple[int, int]] = []
        counters: list[int] = []
        for note in result.notes:
            family = traced.get(note.source_metric)
            if family is None or note.source_metric == "":
                continue
            instrument = get(note.sli).instrument
            if instrument is Instrument.COUNTER:
                counters.extend(_rank(s.value) for s in family.samples if s.name == family.name)
            elif instrument is Instrument.HISTOGRAM and family.type is MetricType.HISTOGRAM:
                children: dict[Labels, tuple[list[tuple[float, int]], list[int]]] = {}
                for s in family.samples:
                    suffix = s.name[len(family.name):]
                    if suffix == "_bucket":
                        bound = float(s.label("le"))
                        if math.isnan(bound):
                            raise _NoPlan
                        key = tuple(p for p in s.labels if p[0] != "le")
                        children.setdefault(key, ([], []))[0].append((bound, _rank(s.value)))
                    elif suffix == "_count":
                        children.setdefault(s.labels, ([], []))[1].append(_rank(s.value))
                for buckets, count in children.values():
                    if not buckets or not count or not math.isinf(max(buckets)[0]):
                        raise _NoPlan
                    ranks = tuple(r for _, r in sorted(buckets))
                    hist.append(ranks)
                    counts.append((count[0], ranks[-1]))
        return hist, counts, counters


def _rank(value: float) -> int:
    if not isinstance(value, _Traced):
        raise _NoPlan
    return value.slot


class _NoPlan(Exception):
    """This shape cannot be planned; the ordinary path handles it every time."""
