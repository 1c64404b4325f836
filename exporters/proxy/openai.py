"""What an OpenAI-API request asks for and what each response chunk carries, from the proxy's view.

Pure functions over bytes. Two jobs:

* `prepare`: read the request body once (stream? which model?) and, for a streamed chat or
  completions request that did not ask for usage, ask the engine for it
  (`stream_options.include_usage`), remembering to drop that one extra chunk again so the client
  sees what it would have seen without the proxy.
* `inspect_chunk` / `inspect_body`: does this chunk carry generated content (TTFT, ITL), usage
  (exact token counts), an error, the model the engine answered as?
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

ROUTES: dict[str, str] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
}
INJECTABLE = frozenset({"chat", "completions"})
_USAGE_KEY = b'"usage"'


class Usage(NamedTuple):
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Prepared:
    body: bytes  # what is sent upstream
    stream: bool
    strip_usage: bool  # the proxy asked for usage: drop the usage-only chunk before the client sees it
    requested_model: str  # user input: used as a label only once the engine has confirmed it


def prepare(route: str, body: bytes, *, inject_usage: bool) -> Prepared:
    """Never fails: a body that is not a JSON object is sent as it is (the engine answers 400)."""
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return Prepared(body, False, False, "")
    model = obj.get("model")
    requested = model if isinstance(model, str) else ""
    stream = obj.get("stream") is True
    if not (stream and inject_usage and route in INJECTABLE):
        return Prepared(body, stream, False, requested)
    options = obj.get("stream_options")
    if "stream_options" not in obj:
        start = body.index(b"{") + 1  # a JSON object with at least the key "stream"
        new = body[:start] + b'"stream_options":{"include_usage":true},' + body[start:]
        return Prepared(new, True, True, requested)
    if isinstance(options, dict) and options.get("include_usage") is True:
        return Prepared(body, True, False, requested)
    if options is not None and not isinstance(options, dict):
        return Prepared(body, True, False, requested)  # invalid: the engine rejects it, leave it alone
    # Continuous usage only applies with include_usage, so it must stay off to keep the stream as asked.
    obj["stream_options"] = {**(options or {}), "include_usage": True, "continuous_usage_stats": False}
    return Prepared(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), True, True, requested)


class ChunkInfo(NamedTuple):
    content: bool
    usage: Usage | None
    usage_only: bool  # no choices, only usage: the chunk include_usage adds at the end
    error: bool
    model: str | None
    # A choice finished in this chunk and it carries no system_fingerprint (see `stamp_fingerprint`).
    terminal: bool = False
    fingerprint: str | None = None  # of a usage-only chunk


NOT_JSON = ChunkInfo(False, None, False, False, None)
DONE = ChunkInfo(False, None, False, False, None)


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    inp = raw.get("prompt_tokens", raw.get("input_tokens"))
    out = raw.get("completion_tokens", raw.get("output_tokens", 0))
    if isinstance(inp, int) and isinstance(out, int) and inp >= 0 and out >= 0:
        return Usage(inp, out or 0)
    return None


def _has_content(choice: object) -> bool:
    if not isinstance(choice, dict):
        return False
    text = choice.get("text")
    if text:
        return True
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return any(v for k, v in delta.items() if k != "role")
    return False


_CONTENT_CHUNK = ChunkInfo(True, None, False, False, None)
_CHAT_CONTENT = b'"delta":{"content":"'
_TEXT = b'"text":"'


def _fast(data: bytes) -> ChunkInfo | None:
    """The common case without parsing: one running choice, no usage, no error, non-empty content.

    Safe because every marker contains a quote followed by a non-backslash character, which JSON
    string escaping can never produce inside a value, so text in a delta cannot forge a marker.
    Anything else (and empty content, which may sit beside reasoning or tool-call deltas) is parsed.
    """
    if (data.count(b'"index":') != 1 or b'"finish_reason":null' not in data or b'"usage"' in data
            or b'"error"' in data or b'"type"' in data):
        return None
    at = data.find(_CHAT_CONTENT)
    if at >= 0:
        return _CONTENT_CHUNK if data[at + len(_CHAT_CONTENT) : at + len(_CHAT_CONTENT) + 1] != b'"' else None
    at = data.find(_TEXT)
    if at >= 0 and data[at + len(_TEXT) : at + len(_TEXT) + 1] != b'"':
        return _CONTENT_CHUNK
    return None


def inspect_chunk(data: bytes, *, need_model: bool = True) -> ChunkInfo:
    """Classify one SSE event's data. Unparseable data is passed on and counts as no content.
    Without `need_model` a common content chunk is recognised without parsing it."""
    if data == b"[DONE]":
        return DONE
    if not need_model:
        fast = _fast(data)
        if fast is not None:
            return fast
    try:
        obj = json.loads(data)
    except ValueError:
        return NOT_JSON
    if not isinstance(obj, dict):
        return NOT_JSON
    kind = obj.get("type")
    if isinstance(kind, str):  # the Responses API: typed events
        return _inspect_response_event(kind, obj)
    if "error" in obj or obj.get("object") == "error":
        return ChunkInfo(False, None, False, True, None)
    choices = obj.get("choices")
    usage = _usage(obj.get("usage")) if obj.get("usage") else None
    model = obj.get("model")
    content = isinstance(choices, list) and any(_has_content(c) for c in choices)
    usage_only = usage is not None and choices == []
    terminal = (
        isinstance(choices, list)
        and "system_fingerprint" not in obj
        and any(isinstance(c, dict) and c.get("finish_reason") is not None for c in choices)
    )
    fingerprint = obj.get("system_fingerprint") if usage_only else None
    return ChunkInfo(content, usage, usage_only, False, model if isinstance(model, str) else None, terminal,
                     fingerprint if isinstance(fingerprint, str) else None)


def stamp_fingerprint(event: bytes, fingerprint: str) -> bytes:
    """Add `"system_fingerprint":"..."` as the last member of a terminal chunk.

    vLLM (0.32) puts the fingerprint on the chunks that finish a choice when the client did not ask
    for usage, and only on the trailing usage chunk when it did. When the proxy asked for usage on
    the client's behalf and drops that chunk, the terminal chunks get the fingerprint back, at the
    end of the object where vLLM's serializer puts it, so the client sees the bytes it would have.
    """
    end = event.rindex(b"}")
    value = json.dumps(fingerprint, ensure_ascii=False).encode()
    return event[:end] + b',"system_fingerprint":' + value + event[end:]


def _inspect_response_event(kind: str, obj: dict[str, Any]) -> ChunkInfo:
    if kind == "error" or kind == "response.failed":
        return ChunkInfo(False, None, False, True, None)
    response = obj.get("response")
    model = response.get("model") if isinstance(response, dict) else None
    usage = _usage(response.get("usage")) if kind == "response.completed" and isinstance(response, dict) else None
    content = kind.endswith(".delta") and bool(obj.get("delta"))
    return ChunkInfo(content, usage, False, False, model if isinstance(model, str) else None)


class BodyInfo(NamedTuple):
    usage: Usage | None
    model: str | None
    error: bool


def inspect_body(body: bytes, *, complete: bool) -> BodyInfo:
    """A non-streamed response. `complete=False`: only the tail of a large body was kept, so
    usage is looked for after the last `"usage"` key."""
    if complete:
        try:
            obj = json.loads(body)
        except ValueError:
            return BodyInfo(None, None, False)
        if not isinstance(obj, dict):
            return BodyInfo(None, None, False)
        model = obj.get("model")
        error = "error" in obj or obj.get("object") == "error"
        return BodyInfo(_usage(obj.get("usage")), model if isinstance(model, str) else None, error)
    at = body.rfind(_USAGE_KEY)
    if at < 0:
        return BodyInfo(None, None, False)
    start = body.find(b"{", at)
    if start < 0:
        return BodyInfo(None, None, False)
    try:
        raw, _ = json.JSONDecoder().raw_decode(body[start:].decode("utf-8", "replace"))
    except ValueError:
        return BodyInfo(None, None, False)
    return BodyInfo(_usage(raw), None, False)
