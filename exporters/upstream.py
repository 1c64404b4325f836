"""Fetching an upstream /metrics endpoint, with every failure turned into a named kind.

The sidecar must keep serving whatever the upstream does (hang, refuse, send garbage, restart),
so this module never raises: it returns either the body or a `FetchError` whose `kind` becomes a
label value of `llmslo_exporter_scrape_errors_total`.

Why a small HTTP/1.1 client on a plain socket rather than httpx or http.client: the sidecar
fetches one URL once a second for its whole life, and that fetch was the largest single CPU cost
of a scrape (httpx about 1.7 ms, http.client about 0.6 ms, this about 0.2 ms for a 50 KB body).
It needs only GET with keep-alive, Content-Length, chunked or close-delimited bodies, gzip if a
server insists, and a deadline for the whole exchange. Anything else is a `protocol` error.
"""

from __future__ import annotations

import socket
import ssl
import time
import zlib
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

# Every kind the exporter can count, pre-declared so each error counter starts at 0 and
# `rate()` works from the first scrape.
FETCH_ERROR_KINDS = ("connect", "timeout", "http_status", "too_large", "protocol", "decode")

_MAX_HEAD = 64 * 1024  # status line and headers
_RECV = 256 * 1024


@dataclass(frozen=True, slots=True)
class FetchError:
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class Fetched:
    text: str
    seconds: float


class _Failed(Exception):
    """Internal: carries a FetchError out of the nested readers."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Reader:
    """Buffered reads from one connection with a deadline for the whole response."""

    __slots__ = ("_buf", "_deadline", "_sock")

    def __init__(self, sock: socket.socket, buf: bytes, deadline: float) -> None:
        self._sock = sock
        self._buf = buf
        self._deadline = deadline

    def _recv(self) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining)
        return self._sock.recv(_RECV)

    def head(self) -> bytes:
        """Up to and including the blank line that ends the headers."""
        buf = self._buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                self._buf = buf[end + 4 :]
                return buf[: end + 2]
            if len(buf) > _MAX_HEAD:
                raise _Failed("protocol", "response headers too long")
            data = self._recv()
            if not data:
                raise _Failed("protocol", "connection closed before the response headers")
            buf += data

    def exactly(self, size: int) -> bytes:
        buf = self._buf
        if len(buf) >= size:
            self._buf = buf[size:]
            return buf[:size]
        out = bytearray(size)
        view = memoryview(out)
        view[: len(buf)] = buf
        got = len(buf)
        self._buf = b""
        while got < size:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            n = self._sock.recv_into(view[got:])
            if n == 0:
                raise _Failed("protocol", f"connection closed after {got} of {size} body bytes")
            got += n
        return bytes(out)

    def line(self) -> bytes:
        buf = self._buf
        while True:
            end = buf.find(b"\r\n")
            if end >= 0:
                self._buf = buf[end + 2 :]
                return buf[:end]
            if len(buf) > _MAX_HEAD:
                raise _Failed("protocol", "chunk header too long")
            data = self._recv()
            if not data:
                raise _Failed("protocol", "connection closed inside a chunked body")
            buf += data

    def rest(self, limit: int) -> bytes:
        """Until the server closes (a body with neither Content-Length nor chunked framing)."""
        chunks = [self._buf]
        size = len(self._buf)
        self._buf = b""
        while True:
            data = self._recv()
            if not data:
                return b"".join(chunks)
            size += len(data)
            if size > limit:
                raise _Failed("too_large", f"body exceeds {limit} bytes")
            chunks.append(data)


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.split(b"\r\n")
    status = lines[0].split(None, 2)
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
        raise _Failed("protocol", f"not an HTTP/1.x response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        if not raw:
            continue
        name, sep, value = raw.partition(b":")
        if not sep:
            raise _Failed("protocol", f"malformed header line {raw[:60]!r}")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return int(status[1]), headers


class Upstream:
    """A keep-alive HTTP client for one target. Not thread-safe; the sidecar serialises calls."""

    def __init__(self, url: str, *, timeout: float = 3.0, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.url = url
        self._timeout = timeout
        self._connect_timeout = min(timeout, 1.0)
        self._max_bytes = max_bytes
        self._sock: socket.socket | None = None
        parts = urlsplit(url)
        self._tls = parts.scheme == "https"
        self._bad_url = "" if parts.scheme in ("http", "https") and parts.hostname else f"unsupported URL {url!r}"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        netloc = parts.netloc.rpartition("@")[2]
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\n"
            "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nUser-Agent: llmslo-exporter\r\n\r\n"
        ).encode("latin-1")

    def fetch(self) -> Fetched | FetchError:
        start = time.perf_counter()
        if self._bad_url:
            return FetchError("connect", self._bad_url)
        deadline = time.monotonic() + self._timeout
        # A kept-alive connection the server closed while idle fails before any byte of an
        # answer; that is not the target's fault, so it is retried once on a fresh connection.
        for attempt in (0, 1):
            reused = self._sock is not None
            try:
                body = self._exchange(deadline)
            except _Stale:
                self.close()
                if attempt == 0 and reused:
                    continue
                return FetchError("protocol", f"{self.url}: connection closed without an answer")
            except _Failed as exc:
                self.close()
                return FetchError(exc.kind, f"{self.url}: {exc.message}")
            except TimeoutError:
                self.close()
                return FetchError("timeout", f"{self.url}: no complete answer within {self._timeout} s")
            except _ConnectFailed as exc:
                self.close()
                return FetchError("connect", f"{self.url}: {exc}")
            except (OSError, ValueError) as exc:
                self.close()
                return FetchError("protocol", f"{self.url}: {type(exc).__name__}: {exc}")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                return FetchError("decode", f"{self.url}: body is not UTF-8 ({exc.reason} at byte {exc.start})")
            return Fetched(text, time.perf_counter() - start)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self._connect_timeout)
        except TimeoutError:
            raise  # a timeout, as httpx's ConnectTimeout was: the target is there but too slow
        except OSError as exc:
            raise _ConnectFailed(str(exc) or type(exc).__name__) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls:
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._host)
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise _ConnectFailed(f"TLS: {exc}") from exc
        return sock

    def _exchange(self, deadline: float) -> bytes:
        sock = self._sock
        reused = sock is not None
        if sock is None:
            sock = self._sock = self._connect()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        try:
            sock.sendall(self._request)
            first = sock.recv(_RECV)
        except (ConnectionResetError, BrokenPipeError) as exc:
            if reused:
                raise _Stale from exc
            raise
        if not first:
            if reused:
                raise _Stale
            raise _Failed("protocol", "connection closed without an answer")
        reader = _Reader(sock, first, deadline)
        status, headers = _parse_head(reader.head())
        while 100 <= status < 200:  # interim answers (100 Continue) precede the real one
            status, headers = _parse_head(reader.head())
        if status != 200:
            self.close()  # its body is not read, so the connection cannot be reused
            raise _Failed("http_status", f"answered HTTP {status}")
        limit = self._max_bytes
        keep = headers.get("connection", "").lower() != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked(reader, limit)
        elif "content-length" in headers:
            declared = headers["content-length"]
            if not declared.isdigit():
                raise _Failed("protocol", f"bad Content-Length {declared[:40]!r}")
            size = int(declared)
            if size > limit:
                raise _Failed("too_large", f"body of {size} bytes exceeds {limit}")
            body = reader.exactly(size)
        else:
            body = reader.rest(limit)
            keep = False
        if not keep:
            self.close()
        encoding = headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "deflate"):
            body = self._decompress(body, encoding, limit)
        elif encoding != "identity":
            raise _Failed("decode", f"unsupported Content-Encoding {encoding[:40]!r}")
        return body

    @staticmethod
    def _chunked(reader: _Reader, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = reader.line().split(b";", 1)[0].strip()
            try:
                length = int(line, 16)
            except ValueError:
                raise _Failed("protocol", f"bad chunk size {line[:20]!r}") from None
            if length == 0:
                while reader.line():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            size += length
            if size > limit:
                raise _Failed("too_large", f"body exceeds {limit} bytes")
            chunks.append(reader.exactly(length))
            if reader.exactly(2) != b"\r\n":
                raise _Failed("protocol", "chunk not followed by CRLF")

    @staticmethod
    def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise _Failed("decode", f"bad {encoding} body: {exc}") from None
        if len(out) > limit:
            raise _Failed("too_large", f"body exceeds {limit} bytes once decompressed")
        return out

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with suppress(OSError):  # closing never matters to the caller
                sock.close()


class _Stale(Exception):
    """Internal: a reused connection closed before answering."""


class _ConnectFailed(Exception):
    """Internal: no connection could be made."""
