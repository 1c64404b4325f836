"""A deliberately faulty OpenAI-style upstream for the proxy's fault tests (real sockets, asyncio).

A real vLLM cannot be made to hang, cut a stream or send malformed SSE on demand, so these tests
use this server; every pass-through and counting test also runs against the real vLLM
(test_real_vllm.py). The behaviour is chosen per request by the `x-fake` request header:

    stream (default)   SSE chunks "tok0".."tokN-1" as vLLM frames them, usage if asked, [DONE]
    json               a non-streamed completion with usage
    hang               read the request, never answer
    hang_mid           send the head and two chunks, then nothing
    close_mid          send the head and two chunks, then close the socket
    malformed          SSE events whose data is not JSON
    status_500 / status_400 / status_429   an error answer with that status
    error_event        a 200 stream that ends with an error event

`x-fake-chunks` sets N (default 8). Every request seen is kept in `requests` (head and body), so a
test can check what reached the upstream.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

MODEL = "fake-model"


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class SseUpstream:
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    open_connections: int = 0
    closed_by_peer: int = 0
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _chunk(i: int, text: str) -> bytes:
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
           "choices": [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}]}
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _usage_chunk(prompt: int, completion: int) -> bytes:
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [],
           "usage": {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}}
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _framed(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"transfer-encoding: chunked\r\n\r\n")


async def _handle(up: SseUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    up.open_connections += 1
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = raw.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            up.requests.append(SeenRequest(method, target, headers, body))
            if not await _answer(up, headers, body, reader, writer):
                return
    finally:
        up.open_connections -= 1
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Hang, but notice when the proxy gives up and closes the connection."""
    while await reader.read(4096):
        pass


async def _answer(
    up: SseUpstream, headers: dict[str, str], body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    mode = headers.get("x-fake", "stream")
    n = int(headers.get("x-fake-chunks", "8"))
    try:
        request: Any = json.loads(body) if body else {}
    except ValueError:
        request = {}
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    if mode == "hang":
        await _until_closed(reader)
        return False
    if mode.startswith("status_"):
        status = int(mode[len("status_"):])
        payload = json.dumps({"object": "error", "message": "fake failure", "type": "Fake", "code": status}).encode()
        writer.write(b"HTTP/1.1 %d Fake\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (status, len(payload), payload))
        await writer.drain()
        return True
    if mode == "json":
        payload = json.dumps({"id": "cmpl-1", "object": "chat.completion", "model": MODEL,
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
                              "usage": {"prompt_tokens": 5, "total_tokens": 7, "completion_tokens": 2}}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(payload), payload))
        await writer.drain()
        return True
    writer.write(SSE_HEAD)
    if mode == "malformed":
        for _ in range(n):
            writer.write(_framed(b"data: {not json\n\n"))
        writer.write(_framed(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()
        return True
    for i in range(n if mode in ("stream", "error_event") else 2):
        writer.write(_framed(_chunk(i, f"tok{i}")))
        await writer.drain()
    if mode == "hang_mid":
        await _until_closed(reader)
        return False
    if mode == "close_mid":
        return False
    if mode == "error_event":
        writer.write(_framed(b'data: {"error":{"object":"error","message":"engine died","code":500}}\n\n'))
    elif include_usage:
        writer.write(_framed(_usage_chunk(5, n)))
    writer.write(_framed(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await writer.drain()
    return True


@contextmanager
def sse_upstream() -> Iterator[SseUpstream]:
    up = SseUpstream()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stop
        up.loop = asyncio.get_running_loop()
        stop = up.loop.create_future()
        tasks: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await _handle(up, reader, writer)
            except asyncio.CancelledError:
                pass
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0, backlog=4096)
        up.port = server.sockets[0].getsockname()[1]
        ready.set()
        await stop
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="sse-upstream", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield up
    finally:
        assert up.loop is not None and stop is not None
        up.loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(10)
