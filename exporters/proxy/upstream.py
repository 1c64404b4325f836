"""A small HTTP/1.1 client for the one upstream the proxy serves, on asyncio streams.

Hand-rolled because the proxy's hot loop is "read what arrived, pass it on": a general client
(httpx/httpcore) costs several times more per chunk, and the proxy needs no redirects, TLS,
cookies or decoding. Connections are kept alive and reused; an idle one the upstream closed is
retried once on a fresh connection, and only when no byte of the answer had arrived.

Errors are one class, `UpstreamError`, with a `kind`:
connect (refused, unreachable, connect timeout), closed (the upstream closed before the answer was
complete), protocol (not HTTP/1.x, bad framing, head too large).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

HEAD_LIMIT = 64 * 1024
READ_SIZE = 64 * 1024
_NO_BODY_STATUS = (204, 304)


class UpstreamError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class ResponseHead:
    status: int
    headers: list[tuple[bytes, bytes]]  # names lower-cased, in order
    chunked: bool
    length: int | None  # None with chunked=False: until the upstream closes
    keep_alive: bool


class ChunkedDecoder:
    """`Transfer-Encoding: chunked` (RFC 9112 section 7.1), incrementally; extensions and trailers are skipped."""

    __slots__ = ("_buf", "_left", "_state", "done")

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0
        self._state = 0  # 0 size line, 1 data, 2 CRLF after data, 3 trailer lines
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while pos < n and not self.done:
            state = self._state
            if state == 1:
                take = min(self._left, n - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._left -= take
                if self._left == 0:
                    self._state = 2
            elif state == 2:
                if n - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ValueError("chunk data not followed by CRLF")
                pos += 2
                self._state = 0
            else:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if n - pos > 4096:
                        raise ValueError("chunk size line too long")
                    break
                line = buf[pos:end]
                pos = end + 2
                if state == 3:
                    if not line:
                        self.done = True
                    continue
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ValueError(f"bad chunk size {size_text[:20]!r}") from None
                if size < 0 or not size_text.isalnum():
                    raise ValueError(f"bad chunk size {size_text[:20]!r}")
                if size == 0:
                    self._state = 3
                else:
                    self._left = size
                    self._state = 1
        self._buf = buf[pos:]
        return b"".join(out) if len(out) != 1 else out[0]


def parse_head(raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, http version) from a response head ending in CRLF CRLF."""
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise UpstreamError("protocol", f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise UpstreamError("protocol", f"bad header line: {line[:80]!r}")
        headers.append((name.lower(), value.strip()))
    return int(parts[1]), headers, parts[0]


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = False
        self._decoder: ChunkedDecoder | None = None
        self._remaining: int | None = None
        self._done = True
        self.received_any = False

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self, method: str) -> ResponseHead:
        while True:
            try:
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                self.received_any = self.received_any or bool(exc.partial)
                raise UpstreamError("closed", "the upstream closed the connection before answering") from None
            except asyncio.LimitOverrunError:
                raise UpstreamError("protocol", f"response head larger than {HEAD_LIMIT} bytes") from None
            except (ConnectionError, OSError) as exc:
                raise UpstreamError("closed", f"connection lost before the answer: {exc}") from None
            self.received_any = True
            status, headers, version = parse_head(raw)
            if 100 <= status < 200 and status != 101:
                continue  # interim answers (100 Continue, 103 Early Hints) are not forwarded
            break
        keep_alive = version == b"HTTP/1.1"
        chunked = False
        length: int | None = None
        for name, value in headers:
            if name == b"connection":
                tokens = {t.strip().lower() for t in value.split(b",")}
                keep_alive = (keep_alive or b"keep-alive" in tokens) and b"close" not in tokens
            elif name == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise UpstreamError("protocol", f"bad content-length {value[:20]!r}") from None
        if method == "HEAD" or status in _NO_BODY_STATUS:
            chunked, length = False, 0
        if chunked:
            length = None
        self._decoder = ChunkedDecoder() if chunked else None
        self._remaining = length
        self._done = length == 0
        self.reusable = keep_alive and (chunked or length is not None)
        return ResponseHead(status, headers, chunked, length, keep_alive)

    @property
    def complete(self) -> bool:
        """The whole answer has been read (its last piece may not have been handed out yet)."""
        return self._done

    async def read_body(self) -> bytes:
        """The next piece of the body as it arrived; b"" once it is complete."""
        while not self._done:
            try:
                data = await self.reader.read(READ_SIZE)
            except (ConnectionError, OSError) as exc:
                self.reusable = False
                raise UpstreamError("closed", f"connection lost mid-body: {exc}") from None
            decoder = self._decoder
            if decoder is not None:
                if not data:
                    self.reusable = False
                    raise UpstreamError("closed", "the upstream closed the connection mid-body (chunked)")
                try:
                    piece = decoder.feed(data)
                except ValueError as exc:
                    self.reusable = False
                    raise UpstreamError("protocol", str(exc)) from None
                if decoder.done:
                    self._done = True
                if piece:
                    return piece
                continue
            if self._remaining is None:
                if not data:
                    self._done = True
                return data
            if not data:
                self.reusable = False
                raise UpstreamError("closed", f"the upstream closed the connection {self._remaining} bytes short")
            if len(data) > self._remaining:
                self.reusable = False
                data = data[: self._remaining]
            self._remaining -= len(data)
            if self._remaining == 0:
                self._done = True
            return data
        return b""

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(Exception):
            self.writer.close()


class UpstreamPool:
    def __init__(self, host: str, port: int, *, connect_timeout: float, max_idle: int) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self._idle: deque[Connection] = deque()

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection and whether it was reused (a reused one may have been closed by the upstream)."""
        while self._idle:
            conn = self._idle.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()
                continue
            return conn, True
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=HEAD_LIMIT), self.connect_timeout
            )
        except TimeoutError:
            raise UpstreamError("connect", f"connect to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            reason = exc.strerror or exc
            raise UpstreamError("connect", f"cannot connect to {self.host}:{self.port}: {reason}") from None
        return Connection(reader, writer), False

    def release(self, conn: Connection) -> None:
        if conn.reusable and conn.complete and len(self._idle) < self.max_idle and not conn.reader.at_eof():
            conn.received_any = False
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
