"""The sidecar's HTTP front: answers, keep-alive and bad requests, over real sockets."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from exporters.server import make_server, serve_in_thread
from slo.metrics.write import TEXT_CONTENT_TYPE


@contextmanager
def running(render: Callable[[], str]) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, render)
    thread = serve_in_thread(server)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def raw(port: int, request: bytes) -> bytes:
    """Send bytes, read until the server closes (or 2 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(request)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
        return data


def test_metrics_on_one_kept_alive_connection() -> None:
    calls = []

    def render() -> str:
        calls.append(1)
        return f"x {len(calls)}.0\n"

    with running(render) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        answers = []
        for _ in range(3):
            conn.request("GET", "/metrics?x=1")
            response = conn.getresponse()
            answers.append((response.status, response.getheader("Content-Type"), response.read()))
        conn.close()
    assert answers == [(200, TEXT_CONTENT_TYPE, f"x {i}.0\n".encode()) for i in (1, 2, 3)]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/healthz", 200), ("GET", "/readyz", 200), ("GET", "/nope", 404), ("POST", "/metrics", 405),
     ("HEAD", "/metrics", 405)],
)
def test_other_paths_and_methods(method: str, path: str, status: int) -> None:
    with running(lambda: "x 1.0\n") as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request(method, path, body=b"ignored" if method == "POST" else None)
        response = conn.getresponse()
        body = response.read()
        # The connection stays usable after any of these.
        conn.request("GET", "/metrics")
        follow = conn.getresponse()
        follow_body = follow.read()
        conn.close()
    assert response.status == status
    assert (body == b"") == (method == "HEAD")
    assert (follow.status, follow_body) == (200, b"x 1.0\n")


def test_render_failure_is_a_500_not_a_dropped_connection() -> None:
    def broken() -> str:
        raise RuntimeError("bug")

    with running(broken) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        response.read()
        conn.close()
    assert response.status == 500


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"431"),
    ],
)
def test_bad_requests_are_answered_and_closed(request_bytes: bytes, status: bytes) -> None:
    with running(lambda: "x 1.0\n") as port:
        answer = raw(port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
    assert b"Connection: close" in answer


def test_http_10_and_connection_close_end_the_connection() -> None:
    with running(lambda: "x 1.0\n") as port:
        old = raw(port, b"GET /metrics HTTP/1.0\r\n\r\n")
        closing = raw(port, b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
        pipelined = raw(port, b"GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 200") and old.endswith(b"x 1.0\n")
    assert closing.startswith(b"HTTP/1.1 200") and closing.endswith(b"x 1.0\n")
    assert pipelined.count(b"HTTP/1.1 200") == 2 and pipelined.endswith(b"x 1.0\n")
