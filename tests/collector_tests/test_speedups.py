"""The C span path (collector._spanscan through collector.speedups) on its own terms: its
observations read like observe_span's (the Values mapping is a faithful read-only dict), its
aggregation adds up exactly like the Python one, and misuse of its API is a clear TypeError or
ValueError, never a crash. (That whole exports come out the same is
test_fastpath_equivalence's property.)"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import speedups
from collector.litepb import LiteSpan
from collector.spans import RequestObservation, observe_span
from collector.store import _ALL_KEYS, Store

from .fixtures import SPAN_CONFIG, llm_request_spans


@pytest.fixture(autouse=True)
def _extension_built() -> None:
    if not speedups.AVAILABLE:
        from conftest import speedups_unavailable

        speedups_unavailable("collector._spanscan")


def _reader() -> speedups.SpanReader:
    reader = speedups.span_reader(SPAN_CONFIG)
    assert reader is not None
    return reader


def _pairs() -> list[tuple[RequestObservation, RequestObservation]]:
    reader = _reader()
    keys = frozenset(SPAN_CONFIG.model_attributes), frozenset(SPAN_CONFIG.tenant_attributes)
    out = []
    for span in llm_request_spans():
        raw = span.SerializeToString()
        items, left = reader.read_many([raw], "", "")
        assert left == 0
        reference = observe_span(LiteSpan.FromString(raw), "", "", SPAN_CONFIG, *keys)
        out.append((items[0], reference))  # type: ignore[arg-type]
    return out


def test_c_observations_read_like_observe_spans() -> None:
    pairs = _pairs()
    assert pairs
    for got, want in pairs:
        assert type(got) is RequestObservation
        assert got[:2] == want[:2] and got[3:] == want[3:]
        values = got.values
        assert isinstance(values, Mapping) and not isinstance(values, dict)
        assert values == want.values
        assert (values != want.values) is False
        assert list(values) == list(want.values) == values.keys()
        assert [type(v) for v in values.values()] == [type(v) for v in want.values.values()]
        assert values.items() == list(want.values.items())
        assert len(values) == len(want.values)
        assert repr(values) == repr(want.values)
        assert values.to_dict() == want.values
        for key in want.values:
            assert key in values
            assert struct.pack("<d", values[key]) == struct.pack("<d", want.values[key])
            assert values.get(key) == want.values[key]
        assert "nope" not in values and 3 not in values
        assert values.get("nope") is None and values.get("nope", 7.0) == 7.0
        with pytest.raises(KeyError):
            values["nope"]
        with pytest.raises(TypeError):
            hash(values)
        with pytest.raises(TypeError):
            values["ttft"] = 1.0  # type: ignore[index]
        assert values != 5 and values != {**want.values, "x": 1}


VALUES = st.one_of(
    st.floats(0, 1e6), st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 2**53),
    st.integers(2**53 + 1, 2**64), st.booleans(), st.just(-0.0),
)


@st.composite
def batches(draw: st.DrawFn) -> list[RequestObservation]:
    out = []
    for i in range(draw(st.integers(0, 40))):
        keys = draw(st.lists(st.sampled_from(_ALL_KEYS), unique=True))
        values = {k: draw(VALUES) for k in keys}
        out.append(RequestObservation("m", "t", values, bytes([i % 256]) * 16, b"s" * 8, i))
    return out


def _state(store: Store) -> str:
    with store.lock:
        store.flush()
    return repr(store.snapshot())


@settings(max_examples=150, deadline=None)
@given(batches(), st.integers(1, 3))
def test_c_aggregation_adds_up_like_python(batch: list[RequestObservation], rounds: int) -> None:
    """Dict observations of any values (ints past 2**53, bools, NaN: declined keys go the Python
    way) aggregate to exactly the Python store's state, exemplars and value types included."""
    native, reference = Store(speedups=True, wall_ns=lambda: 1), Store(speedups=False, wall_ns=lambda: 1)
    for _ in range(rounds):
        for store in (native, reference):
            with store.lock:
                store.record_requests(list(batch), "ns", "pod")
    assert _state(native) == _state(reference)


def test_group_by_labels_keeps_arrival_order() -> None:
    assert speedups.group_by_labels is not None
    obs = [RequestObservation(m, t, {}, b"", b"", i) for i, (m, t) in enumerate(
        [("a", "x"), ("b", "x"), ("a", "x"), ("a", "y"), ("b", "x")])]
    groups = speedups.group_by_labels(obs)
    assert [(m, t, [o.time_ns for o in members]) for m, t, members in groups] == [
        ("a", "x", [0, 2]), ("b", "x", [1, 4]), ("a", "y", [3])]
    assert speedups.group_by_labels([]) == []
    with pytest.raises(TypeError):
        speedups.group_by_labels((obs[0],))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.group_by_labels([("a",)])  # type: ignore[list-item]


def test_accumulate_many_rejects_misuse() -> None:
    accumulate = speedups.accumulate_many
    assert accumulate is not None
    obs = RequestObservation("m", "t", {"ttft": 1.0}, b"", b"", 0)
    with pytest.raises(TypeError):
        accumulate([obs], [("ttft", (1.0,), [0], [None], 0.0)])  # counts one short of bounds + 1
    with pytest.raises(TypeError):
        accumulate([obs], [("ttft", (1.0,), [0, 0], [None], 0.0)])  # exemplars one short
    with pytest.raises(TypeError):
        accumulate([obs], [("ttft", (1,), [0, 0], [None, None], 0.0)])  # an int bound
    with pytest.raises(TypeError):
        accumulate([("not", "an observation")], [("ttft", None, None, None, 0.0)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        accumulate([obs], [("ttft", None)])  # type: ignore[list-item]
    counts, exemplars = [0, 0, 0], [None, None, None]
    assert accumulate([obs], [("ttft", (0.5, 2.0), counts, exemplars, 0.0)]) == [(1.0, 1)]
    assert counts == [0, 1, 0] and exemplars == [None, (1.0, obs), None]
    assert accumulate([obs], [("tpot", None, None, None, 0.5)]) == [(0.5, 0)]
    assert accumulate([RequestObservation("m", "t", {"ttft": True}, b"", b"", 0)],
                      [("ttft", None, None, None, 0.0)]) == [None]  # a bool: Python decides


def test_reader_rejects_a_malformed_plan() -> None:
    from collector import _spanscan

    good = ((b"k", ("ttft",), False, 0),)
    with pytest.raises(TypeError):
        _spanscan.Reader(good, (), (), "m", "t", dict)  # type: ignore[arg-type]  # not a tuple type
    with pytest.raises(ValueError):
        _spanscan.Reader(((b"k", ("ttft",), False, 99),), (), (), "m", "t", RequestObservation)
    with pytest.raises(ValueError):
        _spanscan.Reader(good, ((b"k", True, False),), (), "m", "t", RequestObservation)  # one key twice
    with pytest.raises(ValueError):
        _spanscan.Reader(((b"k", tuple(f"s{i}" for i in range(17)), False, 0),), (), (), "m", "t",
                         RequestObservation)
    with pytest.raises(TypeError):
        _spanscan.Reader(((b"k", (1,), False, 0),), (), (), "m", "t", RequestObservation)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _spanscan.Reader(good, (), (("tpot", "x"),), "m", "t", RequestObservation)  # type: ignore[arg-type]


def test_reader_answers_misuse_with_type_errors_and_declines_odd_requests() -> None:
    reader = _reader()
    with pytest.raises(TypeError):
        reader.read_many(["not bytes"], "", "")  # type: ignore[list-item]
    with pytest.raises(TypeError):
        reader.read_many(5, "", "")  # type: ignore[arg-type]
    span = next(llm_request_spans())
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add().CopyFrom(span)
    body = request.SerializeToString()
    with pytest.raises(TypeError):
        reader.read_request(body, lambda attrs: "not a tuple")  # type: ignore[arg-type,return-value]

    def boom(attrs: list[bytes]) -> tuple[str, str, str, str]:
        raise RuntimeError("labels failed")

    with pytest.raises(RuntimeError, match="labels failed"):
        reader.read_request(body, boom)
    walked = reader.read_request(body, lambda attrs: ("", "", "", ""))
    assert walked is not None and walked[0][2] == 0 and len(walked[0][1]) == 1
    # resource_spans as a varint: not a layout to guess at, so the Python way reads it
    assert reader.read_request(b"\x08\x01" + body, lambda attrs: ("", "", "", "")) is None
    assert reader.read_request(b"", lambda attrs: ("", "", "", "")) == []


def test_spans_the_reader_cannot_read_plainly_are_handed_back() -> None:
    reader = _reader()
    span = next(llm_request_spans())
    odd = []
    for mutate in ("name", "nan", "negative", "string", "twice"):
        s = type(span)()
        s.CopyFrom(span)
        latency = next(kv for kv in s.attributes if kv.key.startswith("gen_ai.latency"))
        if mutate == "name":
            s.name = "Load model"
        elif mutate == "nan":
            latency.value.double_value = math.nan
        elif mutate == "negative":
            latency.value.double_value = -1.0
        elif mutate == "string":
            latency.value.string_value = "0.5"
        else:
            s.attributes.add().CopyFrom(latency)
        odd.append(s.SerializeToString())
    items, left = reader.read_many(odd, "", "")
    assert left == len(odd) and items == odd


def _kv(key: bytes, any_value: bytes) -> bytes:
    return b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(any_value)]) + any_value


def _span(*attributes: bytes) -> bytes:
    return b"\x2a\x0bllm_request" + b"".join(b"\x4a" + bytes([len(a)]) + a for a in attributes)


def _reference(raw: bytes) -> RequestObservation:
    keys = frozenset(SPAN_CONFIG.model_attributes), frozenset(SPAN_CONFIG.tenant_attributes)
    return observe_span(LiteSpan.FromString(raw), "", "", SPAN_CONFIG, *keys)


def test_odd_encodings_go_the_python_way_and_read_as_protobuf_reads_them() -> None:
    """Found in review: an int varint with bits past the 64th (protobuf drops them), a model name
    that is not UTF-8, and a KeyValue with two keys (protobuf's last one wins)."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    reader = _reader()
    e2e = _kv(b"gen_ai.latency.e2e", b"\x21" + struct.pack("<d", 1.5))
    overlong = _span(_kv(b"gen_ai.usage.completion_tokens", b"\x18" + bytes([0x85] + [0x80] * 8 + [0x04])), e2e)
    not_utf8 = _span(e2e, _kv(b"gen_ai.response.model", b"\x0a\x01\xff"))
    two_keys = b"\x0a\x04junk" + _kv(b"gen_ai.latency.e2e", b"\x21" + struct.pack("<d", 2.0))
    items, left = reader.read_many([overlong, not_utf8, _span(two_keys)], "", "")
    assert left == 3 and items == [overlong, not_utf8, _span(two_keys)]
    assert Span.FromString(overlong).attributes[0].value.int_value == 5
    assert _reference(overlong).values["output_tokens"] == 5
    assert Span.FromString(_span(two_keys)).attributes[0].key == "gen_ai.latency.e2e"
    assert _reference(_span(two_keys)).values == {"e2e": 2.0}


def test_an_uninitialised_or_failed_reader_refuses_to_read() -> None:
    from collector import _spanscan

    bare = _spanscan.Reader.__new__(_spanscan.Reader)
    with pytest.raises(TypeError, match="not initialised"):
        bare.read_many([b"\x2a\x0bllm_request"], "", "")
    with pytest.raises(TypeError, match="not initialised"):
        bare.read_request(b"", lambda attrs: ("", "", "", ""))
    failed = _spanscan.Reader.__new__(_spanscan.Reader)
    duplicate = ((b"k", ("ttft",), False, 0),)
    with pytest.raises(ValueError):
        failed.__init__(duplicate, ((b"k", True, False),), (), "m", "t", RequestObservation)
    with pytest.raises(TypeError, match="once"):
        failed.__init__(duplicate, (), (), "m", "t", RequestObservation)
    with pytest.raises(TypeError, match="not initialised"):
        failed.read_many([], "", "")
    good = _reader()
    with pytest.raises(TypeError, match="once"):
        good.__init__(duplicate, (), (), "m", "t", RequestObservation)  # type: ignore[misc]
