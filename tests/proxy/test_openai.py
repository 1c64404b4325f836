"""What a request asks for and what a chunk carries. The chunks here are hand-written in vLLM's
shape (the real ones are exercised end to end in test_real_vllm.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.proxy.openai import Usage, inspect_body, inspect_chunk, prepare


def test_streamed_request_without_usage_gets_it_and_remembers_to_strip() -> None:
    body = b'{"model": "m", "stream": true, "messages": []}'
    p = prepare("chat", body, inject_usage=True)
    assert p.stream and p.strip_usage and p.requested_model == "m"
    sent = json.loads(p.body)
    assert sent["stream_options"] == {"include_usage": True}
    assert {k: v for k, v in sent.items() if k != "stream_options"} == json.loads(body)
    assert p.body.endswith(body[1:])  # the client's bytes are kept; one key is added in front


@pytest.mark.parametrize(
    ("options", "strip"),
    [
        pytest.param({"include_usage": True}, False, id="asked-for-usage"),
        pytest.param({"include_usage": False}, True, id="refused-usage"),
        pytest.param({"include_usage": False, "continuous_usage_stats": True}, True, id="continuous-without-usage"),
        pytest.param(None, True, id="null-options"),
    ],
)
def test_existing_stream_options(options: object, strip: bool) -> None:
    body = json.dumps({"model": "m", "stream": True, "stream_options": options, "prompt": "x"}).encode()
    p = prepare("completions", body, inject_usage=True)
    assert p.strip_usage is strip
    sent = json.loads(p.body)
    assert sent["stream_options"]["include_usage"] is True
    if strip:  # usage in every chunk was not asked for: it must stay off
        assert sent["stream_options"]["continuous_usage_stats"] is False


@pytest.mark.parametrize(
    ("route", "body"),
    [
        pytest.param("chat", b'{"model":"m","messages":[]}', id="not-streamed"),
        pytest.param("embeddings", b'{"model":"m","input":"x","stream":true}', id="embeddings"),
        pytest.param("responses", b'{"model":"m","input":"x","stream":true}', id="responses-always-has-usage"),
        pytest.param("chat", b"not json", id="not-json"),
        pytest.param("chat", b"[1,2]", id="not-an-object"),
        pytest.param("chat", b'{"stream":true,"stream_options":"bad"}', id="invalid-options"),
    ],
)
def test_bodies_left_alone(route: str, body: bytes) -> None:
    p = prepare(route, body, inject_usage=True)
    assert p.body == body and not p.strip_usage


def test_injection_can_be_switched_off() -> None:
    body = b'{"model":"m","stream":true}'
    assert prepare("chat", body, inject_usage=False).body == body


def _chat(delta: dict[str, object], **extra: object) -> bytes:
    return json.dumps({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta}], **extra}).encode()


def test_chunk_classification() -> None:
    assert not inspect_chunk(_chat({"role": "assistant", "content": ""})).content
    assert inspect_chunk(_chat({"content": "hi"})).content
    assert inspect_chunk(_chat({"reasoning_content": "hm"})).content
    assert inspect_chunk(_chat({"tool_calls": [{"index": 0}]})).content
    assert not inspect_chunk(_chat({})).content
    assert inspect_chunk(b'{"model":"m","choices":[{"index":0,"text":"x"}]}').content
    usage = inspect_chunk(b'{"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}')
    assert usage.usage == Usage(3, 4) and usage.usage_only and usage.model == "m"
    continuous = inspect_chunk(_chat({"content": "a"}, usage={"prompt_tokens": 3, "completion_tokens": 1}))
    assert continuous.content and not continuous.usage_only
    assert inspect_chunk(b'{"error":{"message":"boom"}}').error
    assert inspect_chunk(b'{"object":"error","message":"boom"}').error
    assert not inspect_chunk(b"[DONE]").content
    assert not inspect_chunk(b"{not json").content


def test_responses_api_events() -> None:
    assert inspect_chunk(b'{"type":"response.output_text.delta","delta":"x"}').content
    assert not inspect_chunk(b'{"type":"response.created","response":{"model":"m"}}').content
    done = inspect_chunk(b'{"type":"response.completed","response":{"model":"m",'
                         b'"usage":{"input_tokens":5,"output_tokens":6}}}')
    assert done.usage == Usage(5, 6) and done.model == "m"
    assert inspect_chunk(b'{"type":"response.failed"}').error


def test_non_streamed_bodies() -> None:
    body = b'{"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":9}}'
    assert inspect_body(body, complete=True) == (Usage(2, 9), "m", False)
    tail = b'0.1,0.2]}],"usage":{"prompt_tokens":7,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":0}}}'
    assert inspect_body(tail, complete=False).usage == Usage(7, 0)
    assert inspect_body(b"{broken", complete=True).usage is None
    assert inspect_body(b'{"object":"error"}', complete=True).error


_text = st.lists(st.sampled_from(["a", '"', "\\", "é", " ", '"index":', '"finish_reason":null', '"usage"',
                                  '"delta":{"content":"', '"text":"', "\n"]), max_size=6).map("".join)


@st.composite
def chunks(draw: st.DrawFn) -> bytes:
    choices = []
    for i in range(draw(st.integers(0, 2))):
        choice: dict[str, object] = {"index": i}
        if draw(st.booleans()):
            delta: dict[str, object] = {}
            if draw(st.booleans()):
                delta["role"] = "assistant"
            if draw(st.booleans()):
                delta["content"] = draw(_text)
            if draw(st.booleans()):
                delta["reasoning_content"] = draw(_text)
            if draw(st.booleans()):
                delta["tool_calls"] = [{"index": 0, "function": {"arguments": draw(_text)}}]
            choice["delta"] = delta
        else:
            choice["text"] = draw(_text)
        choice["logprobs"] = None
        choice["finish_reason"] = draw(st.sampled_from([None, "length", "stop"]))
        choices.append(choice)
    obj: dict[str, object] = {"id": "x", "model": "m", "choices": choices}
    if draw(st.booleans()):
        obj["usage"] = {"prompt_tokens": 1, "completion_tokens": 2}
    compact = draw(st.booleans())
    return json.dumps(obj, separators=(",", ":") if compact else None, ensure_ascii=draw(st.booleans())).encode()


@given(chunks())
def test_fast_path_agrees_with_parsing(data: bytes) -> None:
    fast, full = inspect_chunk(data, need_model=False), inspect_chunk(data)
    assert fast[:4] == full[:4] and fast.terminal == full.terminal
