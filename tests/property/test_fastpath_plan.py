"""The compiled scrape plan (slo.mapping.compiled) is invisible: a sidecar that uses it answers
exactly what a sidecar running the ordinary path (parse, map, continuity, write on every scrape)
answers, scrape after scrape, whatever the bodies do between scrapes: values moving, counters
resetting, the engine restarting, labels changing, series appearing and disappearing, bad
values, truncation. Both sidecars get the same sequence; their /metrics bodies (but for the
scrape-duration gauge), their families and their reset counts must be equal.
"""

from __future__ import annotations

import re
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st
from support.captures import DCGM, VLLM_032, read

from exporters.pipeline import DCGM as DCGM_PROFILE
from exporters.pipeline import VLLM, Profile, process
from exporters.sidecar import ScrapeCollector, Sidecar, scrape_collector
from exporters.upstream import Fetched
from slo.catalog import Instrument, SourceKind, slis_from
from slo.metrics.write import format_float, write_exposition

POD = (("namespace", "llm"), ("pod", "vllm-0"))
_DURATION = re.compile(r"^llmslo_exporter_scrape_duration_seconds\{.*$", re.MULTILINE)


class Pair:
    """Two sidecars over the same body: one compiled, one on the ordinary path."""

    def __init__(self, profile: Profile, extra: tuple[tuple[str, str], ...] = POD) -> None:
        self.body = ""
        self.collect = scrape_collector(profile, lambda: Fetched(self.body, 0.0), extra_labels=extra)
        assert isinstance(self.collect, ScrapeCollector)
        self.fast = Sidecar(str(profile.kind), self.collect, target="t", min_interval=0.0)
        self.slow = Sidecar(
            str(profile.kind), lambda: process(self.body, profile, extra_labels=extra), target="t", min_interval=0.0
        )
        self.planned = 0

    def scrape(self, body: str) -> None:
        self.body = body
        planned = self.collect.compiled.scrape  # count scrapes the plan answered
        outcome: list[object] = []

        def spy(text: str, continuity: object) -> object:
            result = planned(text, continuity)  # type: ignore[arg-type]
            outcome.append(result)
            return result

        self.collect.compiled.scrape = spy  # type: ignore[method-assign]
        try:
            fast, slow = self.fast.render(), self.slow.render()
        finally:
            del self.collect.compiled.scrape
        self.planned += sum(1 for o in outcome if o is not None)
        assert _DURATION.sub("", fast) == _DURATION.sub("", slow)
        # Families compared as text: exact, NaN-safe and sign-of-zero-safe.
        assert write_exposition(self.fast.snapshot().families) == write_exposition(self.slow.snapshot().families)
        assert self.fast.snapshot().notes == self.slow.snapshot().notes
        assert self.fast.snapshot().schema == self.slow.snapshot().schema


# -- mutations of the real captures -----------------------------------------------------------------


@cache
def capture_lines(name: str) -> tuple[str, ...]:
    return tuple(read(VLLM_032 / name).splitlines())


CAPTURES = ("metrics-after-21-requests.prom", "metrics-after-load.prom", "metrics-idle-after-1-request.prom")
WEIRD_VALUES = st.sampled_from(
    ["NaN", "+Inf", "-Inf", "-1.0", "-0.0", "1_0", "١", "0x1", "", "1e400", "abc", " 1", "1 ", "1 1700000000000", "\t1"]
)


def _samples(lines: list[str], prefix: str = "vllm:") -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith(prefix)]


def _scaled(line: str, factor: float) -> str:
    head, _, value = line.rpartition(" ")
    try:
        return f"{head} {format_float(float(value) * factor)}"
    except ValueError:  # a value an earlier step broke on purpose stays broken
        return line


@st.composite
def step(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """One scrape's body: the previous one changed the way an engine (or a broken one) does."""
    out = list(lines)
    kind = draw(
        st.sampled_from(["grow", "grow", "grow", "same", "reset", "restart", "relabel", "drop", "add", "value",
                         "capture", "ignored", "ignored", "ignored_meta", "ignored_new"])
    )
    samples = _samples(out)
    if kind == "grow":  # a busy engine: everything scaled up keeps histograms consistent
        factor = draw(st.sampled_from([1.0, 1.5, 2.0, 3.0]))
        out = [_scaled(line, factor) if i in set(samples) else line for i, line in enumerate(out)]
    elif kind == "reset":  # counters back down (a restart without a new start time)
        out = [_scaled(line, 0.5) if i in set(samples) else line for i, line in enumerate(out)]
    elif kind == "restart":
        at = _samples(out, "process_start_time_seconds")
        for i in at:
            out[i] = _scaled(out[i], 1.0 + draw(st.integers(1, 5)) * 1e-9)
    elif kind == "relabel" and samples:
        i = draw(st.sampled_from(samples))
        out[i] = out[i].replace('model_name="', 'model_name="x', 1)
    elif kind == "drop" and samples:
        del out[draw(st.sampled_from(samples))]
    elif kind == "add" and samples:
        i = draw(st.sampled_from(samples))
        out.insert(i + 1, out[i].replace('engine="0"', 'engine="1"', 1))
    elif kind == "value" and samples:
        i = draw(st.sampled_from(samples))
        head, _, _ = out[i].rpartition(" ")
        value = draw(st.one_of(WEIRD_VALUES, st.floats().map(format_float)))
        out[i] = f"{head} {value}"
    elif kind == "capture":
        out = list(capture_lines(draw(st.sampled_from(CAPTURES))))
    elif kind == "ignored":  # a line the mapper skips (python_gc_*, http_*, ...): anything after its name
        ignored = _ignored(out)
        if ignored:
            i = draw(st.sampled_from(ignored))
            head, _, _ = out[i].rpartition(" ")
            out[i] = f"{head} {draw(IGNORED_TAILS)}"
    elif kind == "ignored_meta":  # HELP/TYPE of a skipped family changed, or a comment-like line
        comments = [i for i, line in enumerate(out) if line.startswith("#") and not _kept_meta(line)]
        if comments:
            i = draw(st.sampled_from(comments))
            line = out[i]
            out[i] = draw(st.sampled_from([line + " more", line.replace("# ", "#", 1), line.replace("counter", "gauge"),
                                           "# just a comment", " " + line, line[:7]]))
    elif kind == "ignored_new":  # a new line among the skipped ones
        i = draw(st.integers(0, len(out)))
        out.insert(i, draw(st.sampled_from(["python_new_total 1", "# HELP python_new x", "# TYPE python_new gauge",
                                            " vllm:num_requests_running 3", "process_start_time_seconds 5.0", ""])))
    return out


IGNORED_TAILS = st.one_of(
    WEIRD_VALUES, st.sampled_from(["1 2", "1 1700000000000", "a b c", " ", "1\t2", "{x=\"y\"} 1"])
)


def _kept_meta(line: str) -> bool:
    return any(line.startswith(f"# {word} {p}") for word in ("HELP", "TYPE") for p in VLLM.keep)


def _ignored(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line and line[0] != "#" and not line.startswith(VLLM.keep)]


@st.composite
def capture_sequences(draw: st.DrawFn) -> list[str]:
    lines = list(capture_lines(draw(st.sampled_from(CAPTURES))))
    bodies = []
    for _ in range(draw(st.integers(2, 6))):
        lines = draw(step(lines))
        text = "\n".join(lines) + "\n"
        if draw(st.integers(0, 15)) == 0:
            text = text[: -draw(st.integers(1, 40))]  # cut short: the ordinary path reports it
        bodies.append(text)
    return bodies


@settings(max_examples=25, deadline=None)
@given(capture_sequences())
def test_plan_matches_ordinary_path_on_changing_captures(bodies: list[str]) -> None:
    pair = Pair(VLLM)
    pair.scrape("\n".join(capture_lines(CAPTURES[0])) + "\n")
    for body in bodies:
        pair.scrape(body)
    assert pair.fast._continuity.resets == pair.slow._continuity.resets


def test_plan_is_used_for_a_busy_engine_and_for_an_idle_one() -> None:
    """Not a timing: the plan must actually answer (else the property above proves nothing)."""
    pair = Pair(VLLM)
    lines = list(capture_lines(CAPTURES[0]))
    samples = set(_samples(lines))
    for factor in (1.0, 2.0, 3.0, 3.0, 4.0):
        pair.scrape("\n".join(_scaled(line, factor) if i in samples else line for i, line in enumerate(lines)) + "\n")
    assert pair.planned == 4  # the first scrape of a shape runs the ordinary path and builds the plan


def test_plan_answers_when_only_skipped_lines_change() -> None:
    """Lines the parser skips by name (python_gc_*, http_*, ...) may say anything after their
    name: the plan still answers, and answers what the ordinary path does."""
    pair = Pair(VLLM)
    lines = list(capture_lines(CAPTURES[0]))
    ignored = _ignored(lines)
    assert ignored
    for n, tail in enumerate(("1.0", "2.0", "x y", "NaN 17", "")):
        body = [f"{line.rpartition(' ')[0]} {tail}" if i in ignored else line for i, line in enumerate(lines)]
        pair.scrape("\n".join(body) + "\n")
        assert pair.planned == n


def test_plan_matches_ordinary_path_on_dcgm() -> None:
    pair = Pair(DCGM_PROFILE, ())
    lines = read(DCGM).splitlines()
    samples = set(_samples(lines, "DCGM_"))
    for factor in (1.0, 2.0, 0.5, 2.0):
        pair.scrape("\n".join(_scaled(line, factor) if i in samples else line for i, line in enumerate(lines)) + "\n")
    assert pair.planned == 3


# -- random expositions of the families the vLLM mapping reads -----------------------------------------


@cache
def vllm_sources() -> tuple[tuple[str, Instrument, tuple[float, ...]], ...]:
    seen: dict[str, tuple[str, Instrument, tuple[float, ...]]] = {}
    for sli in slis_from(SourceKind.VLLM):
        for source in sli.sources_of(SourceKind.VLLM):
            seen.setdefault(source.metric, (source.metric, sli.instrument, tuple(sli.boundaries)))
    return tuple(sorted(seen.values()))


VALUES = st.one_of(st.integers(0, 50).map(float), st.floats(), st.sampled_from([0.0, -0.0, 1e6, 2.5e7]))
LABELS = st.lists(st.sampled_from(['engine="0"', 'engine="1"', 'model_name="m"', 'model_name="n"']),
                  max_size=2, unique=True)


@st.composite
def shape(draw: st.DrawFn) -> list[tuple[str, Instrument, list[str], list[float]]]:
    """Families (name, instrument, label sets, bucket bounds) the mapping reads."""
    chosen = draw(st.lists(st.sampled_from(vllm_sources()), min_size=1, max_size=5, unique=True))
    out = []
    for name, instrument, grid in chosen:
        label_sets = draw(st.lists(LABELS.map(",".join), min_size=1, max_size=2, unique=True))
        bounds: list[float] = []
        if instrument is Instrument.HISTOGRAM:
            picked = draw(st.lists(st.sampled_from([*grid, 0.123, 7.0]), max_size=4, unique=True))
            bounds = sorted(picked)
        out.append((name, instrument, label_sets, bounds))
    return out


@st.composite
def exposition(draw: st.DrawFn, families: list[tuple[str, Instrument, list[str], list[float]]], start: float) -> str:
    """One body of that shape; values mostly consistent and growing, sometimes anything."""
    lines = ["# HELP process_start_time_seconds Start time.", "# TYPE process_start_time_seconds gauge",
             f"process_start_time_seconds {format_float(start)}"]
    wild = draw(st.integers(0, 4)) == 0
    for name, instrument, label_sets, bounds in families:
        kind = {Instrument.HISTOGRAM: "histogram", Instrument.COUNTER: "counter"}.get(instrument, "gauge")
        base = name.removesuffix("_total") if kind == "counter" else name
        lines += [f"# HELP {base} Some help.", f"# TYPE {base} {kind}"]
        for labels in label_sets:
            if kind != "histogram":
                value = draw(VALUES) if wild else float(draw(st.integers(0, 100)))
                lines.append(f"{name}{{{labels}}} {format_float(value)}" if labels else f"{name} {format_float(value)}")
                continue
            total = 0.0
            sep = "," if labels else ""
            for le in [*bounds, float("inf")]:
                total += draw(VALUES) if wild else float(draw(st.integers(0, 5)))
                lines.append(f'{name}_bucket{{{labels}{sep}le="{format_float(le)}"}} {format_float(total)}')
            count = draw(VALUES) if wild else total
            brace = f"{{{labels}}}" if labels else ""
            lines.append(f"{name}_count{brace} {format_float(count)}")
            lines.append(f"{name}_sum{brace} {format_float(float(draw(st.integers(0, 1000))) / 8)}")
    return "\n".join(lines) + "\n"


@st.composite
def random_sequences(draw: st.DrawFn) -> list[str]:
    families = draw(shape())
    start = 1.7e9
    bodies = []
    for _ in range(draw(st.integers(2, 6))):
        change = draw(st.integers(0, 9))
        if change == 0:
            families = draw(shape())  # series appear and disappear
        elif change == 1:
            start += 1.0  # the engine restarted
        bodies.append(draw(exposition(families, start)))
    return bodies


@settings(max_examples=80, deadline=None)
@given(random_sequences())
def test_plan_matches_ordinary_path_on_random_expositions(bodies: list[str]) -> None:
    pair = Pair(VLLM)
    for body in bodies:
        pair.scrape(body)
    assert pair.fast._continuity.resets == pair.slow._continuity.resets
