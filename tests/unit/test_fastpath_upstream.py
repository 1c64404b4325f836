"""The socket HTTP client behind `Upstream`: framing, keep-alive and its failure kinds, against
a real server socket that answers with exactly the bytes each test scripts."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from integration.upstream_server import fake_upstream

from exporters.upstream import Fetched, FetchError, Upstream

BODY = "# TYPE x gauge\nx 1.0\n"
Answer = Callable[[socket.socket, int], bool]  # writes one answer; False closes the connection


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


@contextmanager
def scripted(answer: Answer) -> Iterator[tuple[str, list[int]]]:
    """A one-thread server on 127.0.0.1; yields its URL and [connections accepted, requests]."""
    listener = socket.create_server(("127.0.0.1", 0))
    counts = [0, 0]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            counts[0] += 1
            with conn:
                conn.settimeout(5)
                try:
                    while _read_request(conn):
                        counts[1] += 1
                        if not answer(conn, counts[1]):
                            break
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics", counts
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def ok(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n" + head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_keep_alive_reuses_one_connection() -> None:
    with scripted(lambda conn, _: conn.sendall(ok(BODY.encode())) is None) as (url, counts):
        upstream = Upstream(url)
        try:
            results = [upstream.fetch() for _ in range(3)]
        finally:
            upstream.close()
    assert [r.text for r in results if isinstance(r, Fetched)] == [BODY] * 3
    assert counts == [1, 3]


def test_a_connection_closed_while_idle_is_reopened_once() -> None:
    # The server answers and hangs up without saying so: the next fetch meets a dead socket.
    with scripted(lambda conn, _: conn.sendall(ok(BODY.encode())) is not None) as (url, counts):
        upstream = Upstream(url)
        try:
            results = [upstream.fetch() for _ in range(3)]
        finally:
            upstream.close()
    assert all(isinstance(r, Fetched) and r.text == BODY for r in results), results
    assert counts[1] == 3


def test_connection_close_header_is_honoured() -> None:
    with scripted(lambda conn, _: conn.sendall(ok(BODY.encode(), "Connection: close")) is not None) as (url, counts):
        upstream = Upstream(url)
        try:
            results = [upstream.fetch() for _ in range(2)]
        finally:
            upstream.close()
    assert all(isinstance(r, Fetched) for r in results)
    assert counts == [2, 2]


def test_chunked_body_with_extensions_and_trailers() -> None:
    payload = b"3;ext=1\r\n# T\r\n" + b"%x\r\n%b\r\n" % (len(BODY) - 3, BODY[3:].encode()) + b"0\r\nX-T: 1\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + payload
    with scripted(lambda conn, _: conn.sendall(answer) is None) as (url, _):
        upstream = Upstream(url)
        try:
            first, second = upstream.fetch(), upstream.fetch()
        finally:
            upstream.close()
    assert isinstance(first, Fetched) and first.text == "# T" + BODY[3:]
    assert isinstance(second, Fetched) and second.text == first.text


def test_gzip_body_is_decoded_even_unasked() -> None:
    answer = ok(gzip.compress(BODY.encode()), "Content-Encoding: gzip")
    with scripted(lambda conn, _: conn.sendall(answer) is None) as (url, _):
        upstream = Upstream(url)
        try:
            got = upstream.fetch()
        finally:
            upstream.close()
    assert isinstance(got, Fetched) and got.text == BODY


def test_body_until_close_without_length() -> None:
    answer = b"HTTP/1.0 200 OK\r\n\r\n" + BODY.encode()
    with scripted(lambda conn, _: conn.sendall(answer) is not None) as (url, _):
        upstream = Upstream(url)
        try:
            got = upstream.fetch()
        finally:
            upstream.close()
    assert isinstance(got, Fetched) and got.text == BODY


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdXX", "protocol"),
        (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", "decode"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", "decode"),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", "http_status"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n", "too_large"),
    ],
)
def test_bad_answers_have_a_kind(answer: bytes, kind: str) -> None:
    with scripted(lambda conn, _: conn.sendall(answer) is not None) as (url, _):
        upstream = Upstream(url, timeout=5.0, max_bytes=1000)
        try:
            got = upstream.fetch()
        finally:
            upstream.close()
    assert isinstance(got, FetchError) and got.kind == kind, got


def test_unsupported_url_is_a_connect_error() -> None:
    got = Upstream("ftp://example/metrics").fetch()
    assert isinstance(got, FetchError) and got.kind == "connect"


def test_recovers_after_a_failure_on_the_fake_upstream() -> None:
    with fake_upstream(BODY) as fake:
        upstream = Upstream(fake.url, timeout=5.0)
        try:
            assert isinstance(upstream.fetch(), Fetched)
            fake.serve(BODY, chunked=True)
            chunked = upstream.fetch()
            fake.status(500)
            failed = upstream.fetch()
            fake.serve(BODY)
            again = upstream.fetch()
        finally:
            upstream.close()
    assert isinstance(chunked, Fetched) and chunked.text == BODY
    assert isinstance(failed, FetchError) and failed.kind == "http_status"
    assert isinstance(again, Fetched) and again.text == BODY
