"""SSE framing: any split of a stream gives back exactly its events, bytes untouched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exporters.proxy.sse import SseScanner, event_data, event_name

_TERMINATORS = (b"\n", b"\r\n", b"\r")
_line_text = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    events = []
    for _ in range(draw(st.integers(1, 6))):
        eol = draw(st.sampled_from(_TERMINATORS))
        lines = draw(st.lists(_line_text.map(lambda t: b"data: " + t), min_size=1, max_size=3))
        events.append(eol.join(lines) + eol + eol)
    data = b"".join(events)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return events, cuts


@given(streams())
def test_any_split_gives_the_same_events(case: tuple[list[bytes], list[int]]) -> None:
    events, cuts = case
    data = b"".join(events)
    scanner = SseScanner()
    got: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(data)]:
        got += scanner.feed(data[previous:cut])
        previous = cut
    got.append(scanner.flush())
    assert b"".join(got) == data  # nothing lost, nothing changed
    complete = [g for g in got if g]
    # A CR-terminated last event cannot be told from a CRLF split across reads until more data arrives.
    if not data.endswith(b"\r"):
        assert complete == events


def test_vllm_framing_fast_path() -> None:
    scanner = SseScanner()
    assert scanner.feed(b'data: {"a":1}\n\ndata: {"b"') == [b'data: {"a":1}\n\n']
    assert scanner.feed(b":2}\n\ndata: [DONE]\n\n") == [b'data: {"b":2}\n\n', b"data: [DONE]\n\n"]
    assert scanner.flush() == b""


def test_crlf_split_across_reads_is_held_back() -> None:
    scanner = SseScanner()
    assert scanner.feed(b"data: x\r\n\r") == []
    assert scanner.feed(b"\ndata: y\r\n\r\n") == [b"data: x\r\n\r\n", b"data: y\r\n\r\n"]


def test_oversized_event_is_passed_on_not_held() -> None:
    scanner = SseScanner(max_event_bytes=10)
    assert scanner.feed(b"data: 0123456789") == [b"data: 0123456789"]
    assert scanner.pending == 0


def test_event_fields() -> None:
    assert event_data(b'data: {"x":1}\n\n') == b'{"x":1}'
    assert event_data(b"data:a\ndata: b\n\n") == b"a\nb"
    assert event_data(b": keep-alive comment\n\n") is None
    assert event_data(b"database: 1\n\n") is None
    assert event_data(b"event: response.created\r\ndata: {}\r\n\r\n") == b"{}"
    assert event_name(b"event: response.created\ndata: {}\n\n") == b"response.created"
    assert event_name(b"data: {}\n\n") == b"message"
