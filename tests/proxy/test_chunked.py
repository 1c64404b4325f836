"""The upstream client's chunked decoder: any chunking, any split, the same payload."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.proxy.upstream import ChunkedDecoder


def _encode(parts: list[bytes]) -> bytes:
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\ntrailer: x\r\n\r\n"


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8), st.lists(st.integers(0, 400), max_size=10))
def test_any_split(parts: list[bytes], cuts: list[int]) -> None:
    wire = _encode(parts)
    decoder = ChunkedDecoder()
    out = b""
    previous = 0
    for cut in [*sorted(c for c in cuts if c <= len(wire)), len(wire)]:
        out += decoder.feed(wire[previous:cut])
        previous = cut
    assert out == b"".join(parts)
    assert decoder.done


@pytest.mark.parametrize("wire", [b"zz\r\n", b"3\r\nabcX\r\n", b"-1\r\n", b"f" * 5000])
def test_bad_framing(wire: bytes) -> None:
    with pytest.raises(ValueError):
        ChunkedDecoder().feed(wire)
