"""A fast local SSE upstream for the proxy benchmark: answers every POST with a chat-completions
style stream of N chunks (chunked transfer encoding, like vLLM behind uvicorn), one chunk per
stream every `gap` seconds, then `data: [DONE]`.

One timer drives every open stream (a tick writes the next chunk of each), so pacing costs one
timer per tick, not one per chunk, and the upstream stays cheaper than what it feeds.

    python bench/proxy/sse_upstream.py --port 18001 --chunks 256 --gap-ms 1
"""

from __future__ import annotations

import argparse
import asyncio
import json

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNK = _frame(b"data: " + json.dumps(
    {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
     "choices": [{"index": 0, "delta": {"content": " token"}, "logprobs": None, "finish_reason": None,
                  "token_ids": None}]}, separators=(",", ":")).encode() + b"\n\n")
USAGE = _frame(b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench",'
               b'"choices":[],"usage":{"prompt_tokens":8,"total_tokens":264,"completion_tokens":256}}\n\n')
DONE = _frame(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class Streams:
    def __init__(self, chunks: int, gap: float) -> None:
        self.chunks = chunks
        self.gap = gap
        self.active: dict[asyncio.Transport, list[int | bool]] = {}  # transport -> [sent, usage]
        self.wake = asyncio.Event()

    async def tick(self) -> None:
        while True:
            if not self.active:
                self.wake.clear()
                await self.wake.wait()
            for transport, state in list(self.active.items()):
                if transport.is_closing():
                    del self.active[transport]
                    continue
                state[0] = int(state[0]) + 1
                if int(state[0]) >= self.chunks:
                    transport.write(CHUNK + (USAGE if state[1] else b"") + DONE)
                    del self.active[transport]
                else:
                    transport.write(CHUNK)
            await asyncio.sleep(self.gap)


class Upstream(asyncio.Protocol):
    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            assert self.transport is not None
            self.transport.write(HEAD + CHUNK)  # the first token at once: TTFT is the path's own cost
            self.streams.active[self.transport] = [1, b'"include_usage":true' in body]
            self.streams.wake.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.streams.active.pop(self.transport, None)


async def serve(port: int, chunks: int, gap: float) -> None:
    streams = Streams(chunks, gap)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upstream(streams), "127.0.0.1", port, backlog=4096)
    ticker = asyncio.create_task(streams.tick())
    async with server:
        await server.serve_forever()
    ticker.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--gap-ms", type=float, default=1.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.chunks, args.gap_ms / 1000))
    else:
        uvloop.run(serve(args.port, args.chunks, args.gap_ms / 1000))


if __name__ == "__main__":
    main()
