"""Properties of the exposition parser and writer.

(a) Any valid set of families survives write -> parse exactly (NaN compared as NaN, -0.0 keeps
    its sign).
(b) Corruption never makes the parser raise, and never loses data silently: every line the
    corruption did not touch that was a valid sample either is in the result (same name, labels
    and value) or has an error reported at its own (new) line number. That is stronger than
    "samples + errors >= untouched sample lines", and it is what a collector relies on: a
    garbled line costs that line, visibly, and nothing else is dropped without a trace.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cache

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString
from unit.test_metrics_parse import ALL_FIXTURES, fixture_text

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.parse import ParseErrorKind, ParseResult, clear_cache, parse_exposition
from slo.metrics.write import format_float, write_exposition

NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,15}", fullmatch=True)
LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in ("le", "quantile")
)
# Label values: the characters that matter to the format, plus any Unicode (no surrogates).
LABEL_VALUES = st.text(st.one_of(st.sampled_from('"\\\n{},= \t#\r'), st.characters()), max_size=10)
# HELP loses leading blanks (the format separates name and text with them) and a final "\r"
# (read as part of a CRLF line end); everything else must survive.
HELPS = st.text(st.one_of(st.sampled_from("\\\n \t\r"), st.characters()), max_size=20).map(
    lambda text: text.lstrip(" \t").rstrip("\r")
)
VALUES = st.floats()
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def _series_names(name: str, mtype: MetricType) -> set[str]:
    if mtype is MetricType.HISTOGRAM:
        return {name, name + "_bucket", name + "_count", name + "_sum"}
    if mtype is MetricType.SUMMARY:
        return {name, name + "_count", name + "_sum"}
    return {name}


@st.composite
def label_sets(draw: st.DrawFn) -> list[Labels]:
    raw = draw(st.lists(st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=3), max_size=3))
    return sorted({make_labels(labels) for labels in raw})


def _with(labels: Labels, key: str, value: str) -> Labels:
    return make_labels({**dict(labels), key: value})


@st.composite
def family(draw: st.DrawFn, name: str) -> MetricFamily:
    """One family with its samples already in the writer's order, so that parse(write(x)) must
    give back x itself, order included."""
    mtype = draw(st.sampled_from(MetricType))
    samples: list[Sample] = []
    if mtype is MetricType.HISTOGRAM:
        bounds = [*sorted(draw(st.lists(FINITE, max_size=4, unique=True))), math.inf]
        for labels in draw(label_sets()):
            total = 0.0
            for bound in bounds:
                total += draw(st.integers(0, 1000))
                samples.append(Sample(name + "_bucket", _with(labels, "le", format_float(bound)), total))
            samples.append(Sample(name + "_count", labels, total))
            samples.append(Sample(name + "_sum", labels, draw(VALUES)))
    elif mtype is MetricType.SUMMARY:
        quantiles = sorted(draw(st.lists(st.floats(0, 1), max_size=3, unique=True)))
        for labels in draw(label_sets()):
            for quantile in quantiles:
                samples.append(Sample(name, _with(labels, "quantile", format_float(quantile)), draw(VALUES)))
            samples.append(Sample(name + "_count", labels, float(draw(st.integers(0, 10**9)))))
            samples.append(Sample(name + "_sum", labels, draw(VALUES)))
    else:
        samples = [Sample(name, labels, draw(VALUES)) for labels in draw(label_sets())]
    return MetricFamily(name, mtype, draw(HELPS), tuple(samples))


@st.composite
def families(draw: st.DrawFn) -> list[MetricFamily]:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    result = [draw(family(name)) for name in names]
    # No family may use a series name another one owns (histogram `x` next to a gauge `x_sum`):
    # that text is ambiguous, and the parser's documented tie-break is not a round trip.
    claimed = [_series_names(f.name, f.type) for f in result]
    assume(sum(map(len, claimed)) == len(set().union(*claimed)))
    return result


def _same_value(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def assert_same_families(got: Mapping[str, MetricFamily], want: Iterable[MetricFamily]) -> None:
    """Equality of families, sample order included, with NaN equal to NaN."""
    want_by_name = {f.name: f for f in want}
    assert sorted(got) == sorted(want_by_name)
    for name, expected in want_by_name.items():
        actual = got[name]
        assert (actual.name, actual.type, actual.help) == (expected.name, expected.type, expected.help)
        assert [(s.name, s.labels) for s in actual.samples] == [(s.name, s.labels) for s in expected.samples]
        for a, b in zip(actual.samples, expected.samples, strict=True):
            assert _same_value(a.value, b.value), (a, b)


@settings(max_examples=250, deadline=None)
@given(families())
def test_write_then_parse_is_identity(fams: list[MetricFamily]) -> None:
    text = write_exposition(fams)
    result = parse_exposition(text, require_final_newline=True)
    assert result.errors == ()
    assert_same_families(result.families, fams)
    assert list(result.families) == sorted(f.name for f in fams)
    assert write_exposition(result.families.values()) == text


@settings(max_examples=300, deadline=None)
@given(st.floats())
def test_format_float_is_prometheus_clients(value: float) -> None:
    assert format_float(value) == floatToGoString(value)
    assert _same_value(float(format_float(value)), value)


# --- corruption ---------------------------------------------------------------------------


def _crafted_base() -> str:
    """A text with what the captures lack: summaries, escapes, untyped and empty families."""
    fams = [
        MetricFamily(
            "s",
            MetricType.SUMMARY,
            "A summary with \\ and\nnewline.",
            (
                Sample("s", (("path", 'a"b\\c\nd'), ("quantile", "0.5")), 0.25),
                Sample("s", (("path", 'a"b\\c\nd'), ("quantile", "0.99")), math.nan),
                Sample("s_count", (("path", 'a"b\\c\nd'),), 3.0),
                Sample("s_sum", (("path", 'a"b\\c\nd'),), 1.0),
            ),
        ),
        MetricFamily("loose", MetricType.UNTYPED, "", (Sample("loose", (("k", "{},= #"),), -math.inf),)),
        MetricFamily("nothing_yet", MetricType.COUNTER, "declared only", ()),
    ]
    return write_exposition(fams)


BASES = (*ALL_FIXTURES, "crafted")
_SampleKey = tuple[str, Labels, object]


def _key(sample: Sample) -> _SampleKey:
    return (sample.name, sample.labels, "NaN" if math.isnan(sample.value) else sample.value)


@cache
def _base(name: str) -> tuple[str, tuple[_SampleKey | None, ...]]:
    """The base text and, per line, the sample that line is when read on its own (None for
    anything else). Checked against the whole-text parse, which the property relies on."""
    text = _crafted_base() if name == "crafted" else fixture_text(name)
    keys: list[_SampleKey | None] = []
    for line in text.split("\n"):
        alone = parse_exposition(line + "\n")
        samples = [s for f in alone.families.values() for s in f.samples]
        keys.append(_key(samples[0]) if not alone.errors and len(samples) == 1 else None)
    whole = parse_exposition(text)
    assert whole.errors == ()
    assert {k for k in keys if k is not None} == {_key(s) for f in whole.families.values() for s in f.samples}
    return text, tuple(keys)


NOISE = st.sampled_from([*'"\\{},= \t\n#_x1.e+-\r\x00é}', "NaN", "+Inf", "# TYPE ", "le=", "\ufffd"])


@st.composite
def edit(draw: st.DrawFn, line: str) -> str:
    op = draw(st.sampled_from(["delete", "insert", "replace", "rewrite", "duplicate"]))
    at = draw(st.integers(0, len(line)))
    if op == "delete":
        return line[:at] + line[at + draw(st.integers(1, 4)) :]
    if op == "insert":
        return line[:at] + draw(NOISE) + line[at:]
    if op == "replace":
        return line[:at] + draw(NOISE) + line[at + 1 :]
    if op == "duplicate":
        return line + "\n" + line
    return "".join(draw(st.lists(st.one_of(NOISE, st.characters()), max_size=12)))


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, str, list[tuple[int, _SampleKey]]]:
    """(base name, corrupted text, [(new line number, sample key)] for untouched sample lines).

    Lines are edited in place (which may split them, with "\\n"), merged with the next line
    (the newline between them deleted: both count as touched), and the text may then be cut at
    any character: a line counts as untouched only if its whole text survives the cut.
    """
    base = draw(st.sampled_from(BASES))
    text, keys = _base(base)
    lines = text.split("\n")
    touched = set(draw(st.sets(st.integers(0, len(lines) - 1), min_size=1, max_size=8)))
    merged = set(draw(st.sets(st.sampled_from(sorted(touched)), max_size=2)))
    touched |= {i + 1 for i in merged if i + 1 < len(lines)}
    pieces: list[str] = []
    untouched: list[tuple[int, int, _SampleKey]] = []  # (line number, end offset, key)
    offset, lineno = 0, 1
    for i, line in enumerate(lines):
        piece = draw(edit(line)) if i in touched else line
        if i + 1 < len(lines):
            piece += "" if i in merged else "\n"
        key = keys[i]
        if i not in touched and key is not None:
            untouched.append((lineno, offset + len(line), key))
        pieces.append(piece)
        offset += len(piece)
        lineno += piece.count("\n")
    result = "".join(pieces)
    if draw(st.booleans()):
        result = result[: draw(st.integers(0, len(result)))]
    return base, result, [(n, key) for n, end, key in untouched if end <= len(result)]


def _check_errors(result: ParseResult, text: str) -> None:
    last_line = text.count("\n") + 1
    for error in result.errors:
        assert isinstance(error.kind, ParseErrorKind)
        assert 0 <= error.line <= last_line
        assert not error.message.startswith("internal error"), error
        # at most 80 characters of the line are quoted; repr may spell one as up to 10 (\U0001xxxx)
        assert len(error.message) < 120 + 10 * 80


@settings(max_examples=200, deadline=None)
@given(corrupted(), st.booleans())
def test_corruption_loses_nothing_silently(case: tuple[str, str, list[tuple[int, _SampleKey]]], strict: bool) -> None:
    _, text, untouched = case
    result = parse_exposition(text, require_final_newline=strict)
    _check_errors(result, text)
    kept = {_key(s) for f in result.families.values() for s in f.samples}
    error_lines = {e.line for e in result.errors}
    for lineno, key in untouched:
        assert key in kept or lineno in error_lines, (lineno, key)
    parsed = sum(len(f.samples) for f in result.families.values())
    assert parsed + len(result.errors) >= len(untouched)


@settings(max_examples=100, deadline=None)
@given(corrupted())
def test_cache_is_invisible_on_corrupted_text(case: tuple[str, str, list[tuple[int, _SampleKey]]]) -> None:
    """The shared series cache, warmed by the clean text, must not change how a damaged text
    that reuses its series heads is read."""
    base, text, _ = case
    clear_cache()
    cold = parse_exposition(text)
    parse_exposition(_base(base)[0])
    warm = parse_exposition(text)
    assert warm.errors == cold.errors
    assert_same_families(warm.families, cold.families.values())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda raw: raw.decode("utf-8", errors="replace"))), st.booleans())
def test_arbitrary_text_never_raises(text: str, strict: bool) -> None:
    result = parse_exposition(text, require_final_newline=strict)
    _check_errors(result, text)
    if not text.strip():
        assert [e.kind for e in result.errors] == [ParseErrorKind.EMPTY]
