"""The C match of the compiled scrape plan (slo.mapping._planscan) against the Python match it
replaces on the hot path (`_Plan.match` + `float`), which stays the reference: wherever the C
matcher answers, it answers the same numbers, and it declines (None) only bodies the Python
match rejects or values outside the plain number alphabet, which then take the Python way."""

from __future__ import annotations

import math
import struct

import pytest
from conftest import speedups_unavailable
from hypothesis import given, settings
from hypothesis import strategies as st
from support.captures import VLLM_032, read

from exporters.pipeline import VLLM, compiled_scraper, process
from slo.mapping import Continuity
from slo.mapping import compiled as compiled_module
from slo.metrics.write import format_float

CAPTURE = read(VLLM_032 / "metrics-after-21-requests.prom")
_PLAIN = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-.")


@pytest.fixture
def needs_c() -> None:
    """The C matcher is built, or the test is skipped (failed under LLMSLO_REQUIRE_SPEEDUPS=1)."""
    if compiled_module.Matcher is None:
        speedups_unavailable("slo.mapping._planscan")


def _plan() -> object:
    scraper = compiled_scraper(VLLM)
    continuity = Continuity()
    first = process(CAPTURE, VLLM)
    applied = continuity.apply(first.families, first.epoch)
    scraper.learn(CAPTURE, first.families, first.notes, first.schema, not first.errors, applied, continuity)
    plan = scraper._plan
    assert plan is not None
    return plan


def _same(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is b
    pack = struct.Struct("<d").pack
    return len(a) == len(b) and all(pack(x) == pack(y) for x, y in zip(a, b, strict=True))


def _python(plan: object, text: str) -> list[float] | None:
    parts = plan.match(text.split("\n"))  # type: ignore[attr-defined]
    if parts is None:
        return None
    try:
        return list(map(float, parts))
    except ValueError:
        return None


LINES = CAPTURE.split("\n")
VALUE_LINES = [i for i, line in enumerate(LINES) if line.startswith("vllm:")]
VALUES = st.one_of(
    st.floats().map(format_float),
    st.floats().map(repr),
    st.sampled_from(["NaN", "nan", "-nan", "+Inf", "-inf", "Infinity", "1e400", "-0.0", "1_0", "0x10", "", "1 ",
                     " 1", "\t1", "1\t", "1\r", "١", "1e", ".", "+", "1.5E+3", "00", "9" * 70, "é", "\x00"]),
    st.text(max_size=8),
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["value", "value", "value", "line", "drop", "insert", "cut"]))
        if kind == "value":
            i = draw(st.sampled_from(VALUE_LINES))
            lines[i] = lines[i].rpartition(" ")[0] + " " + draw(VALUES)
        elif kind == "line":
            i = draw(st.integers(0, len(lines) - 1))
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.text(max_size=3)) + lines[i][at + 1:]
        elif kind == "drop" and len(lines) > 1:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif kind == "insert":
            lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=10)))
        else:
            text = "\n".join(lines)
            return text[: draw(st.integers(0, len(text)))]
    return "\n".join(lines)


@pytest.mark.usefixtures("needs_c")
@settings(max_examples=400, deadline=None)
@given(bodies())
def test_c_numbers_are_the_python_match_or_a_decline(text: str) -> None:
    plan = _plan_once()
    c = plan.scan(text)  # type: ignore[attr-defined]
    python = _python(plan, text)
    if c is not None:
        assert _same(c, python)
    elif python is not None:
        # declined only for a value outside the plain alphabet (the Python way then answers)
        parts = plan.match(text.split("\n"))  # type: ignore[attr-defined]
        assert any(not p or not set(p) <= _PLAIN or len(p) >= 64 for p in parts)


_CACHED: list[object] = []


def _plan_once() -> object:
    if not _CACHED:
        _CACHED.append(_plan())
    return _CACHED[0]


@pytest.mark.usefixtures("needs_c")
def test_the_capture_itself_and_a_busy_engine_go_the_c_way() -> None:
    plan = _plan_once()
    c = plan.scan(CAPTURE)  # type: ignore[attr-defined]
    assert c is not None and _same(c, _python(plan, CAPTURE))
    doubled = "\n".join(
        f"{line.rpartition(' ')[0]} {format_float(float(line.rpartition(' ')[2]) * 2)}" if i in VALUE_LINES else line
        for i, line in enumerate(LINES)
    )
    c = plan.scan(doubled)  # type: ignore[attr-defined]
    assert c is not None and _same(c, _python(plan, doubled))
    assert any(not math.isnan(x) and x > 0 for x in c)


@pytest.mark.usefixtures("needs_c")
@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"\x00", ("x",)), TypeError),  # texts must be bytes
        ((b"\x00\x00", (b"x",)), ValueError),  # lengths differ
        ((b"", ()), ValueError),  # no lines
        ((b"\x03", (b"x",)), ValueError),  # unknown kind
        ((b"\x00", (b"a\nb",)), ValueError),  # a text spanning lines
        (("\x00", (b"x",)), TypeError),  # kinds must be bytes
    ],
)
def test_matcher_rejects_a_malformed_plan(args: tuple[object, ...], error: type[Exception]) -> None:
    assert compiled_module.Matcher is not None
    with pytest.raises(error):
        compiled_module.Matcher(*args)  # type: ignore[arg-type]


@pytest.mark.usefixtures("needs_c")
def test_matcher_declines_what_it_cannot_read() -> None:
    assert compiled_module.Matcher is not None
    m = compiled_module.Matcher(b"\x00\x01\x02\x00", (b"# TYPE a gauge", b"a ", b"b ", b""))
    assert (m.lines, m.kept) == (4, 1)
    assert m.numbers("# TYPE a gauge\na 1.5\nb anything at all\n") == [1.5]
    assert m.numbers("# TYPE a gauge\na 1.5\nb x\n\n") is None  # one line too many
    assert m.numbers("# TYPE a gauge\na 1.5\nb x") is None  # no final newline: one line short
    assert m.numbers("# TYPE a gauge\na 1.5 7\nb x\n") is None  # a timestamp: not the plan's shape
    assert m.numbers("# TYPE a gauge\na \ud800\nb x\n") is None  # a lone surrogate cannot be UTF-8
    assert m.numbers("# TYPE a gauge \na 1\nb x\n") is None
    with pytest.raises(TypeError):
        m.numbers(b"# TYPE a gauge\na 1\nb x\n")  # type: ignore[arg-type]


@pytest.mark.usefixtures("needs_c")
def test_an_uninitialised_or_failed_matcher_refuses_to_match() -> None:
    assert compiled_module.Matcher is not None
    bare = compiled_module.Matcher.__new__(compiled_module.Matcher)
    with pytest.raises(TypeError, match="not initialised"):
        bare.numbers("a 1\n")
    failed = compiled_module.Matcher.__new__(compiled_module.Matcher)
    with pytest.raises(ValueError):
        failed.__init__(b"\x00\x03", (b"a", b"b"))  # an unknown kind, found after allocating
    with pytest.raises(TypeError, match="once"):
        failed.__init__(b"\x00", (b"a",))
