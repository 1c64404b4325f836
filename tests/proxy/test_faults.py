"""The proxy under faults: a broken, hung or garbled upstream, abusive clients, load. Every case
checks that the proxy answers sensibly, counts the right outcome and keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from support.real_vllm import free_port

from exporters.proxy.measure import Exchange
from exporters.proxy.server import ProxyServer
from exporters.proxy.upstream import ChunkedDecoder

from .harness import proxy_tasks, running_proxy, scrape, total
from .sse_upstream import MODEL, SseUpstream, sse_upstream

CHAT = "/v1/chat/completions"
STREAM_BODY = {"model": MODEL, "stream": True, "messages": []}


@pytest.fixture
def upstream() -> Iterator[SseUpstream]:
    with sse_upstream() as up:
        yield up


@pytest.fixture
def proxy(upstream: SseUpstream) -> Iterator[ProxyServer]:
    # Short timeouts so the fault tests are quick, but 2 s, not less: an ordinary exchange must not time
    # out because the CI machine descheduled a process for most of a second.
    with running_proxy(upstream.url, upstream_timeout_s=2.0, upstream_idle_timeout_s=2.0, header_timeout_s=2.0,
                       body_timeout_s=2.0, client_write_timeout_s=2.0, max_body_bytes=1000, max_headers=20,
                       max_header_bytes=4096, tenant_header="x-tenant") as server:
        yield server


def outcome_count(server: ProxyServer, outcome: str) -> float:
    return total(scrape(server), "llmslo_proxy_requests_total", outcome=outcome)


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_stream_passes_through_unchanged_and_usage_chunk_is_removed(upstream: SseUpstream, proxy: ProxyServer) -> None:
    direct = httpx.post(upstream.url + CHAT, json=STREAM_BODY).content
    proxied = httpx.post(proxy.url + CHAT, json=STREAM_BODY).content
    assert proxied == direct
    assert b'"include_usage":true' in upstream.requests[-1].body  # asked for on the client's behalf
    series = scrape(proxy)
    assert total(series, "llmslo_proxy_output_tokens_total") == 8


def test_upstream_down(proxy: ProxyServer) -> None:
    with running_proxy(f"http://127.0.0.1:{free_port()}") as down:
        r = httpx.post(down.url + CHAT, json=STREAM_BODY)
        assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_connect_error"
        assert outcome_count(down, "engine_error") == 1
        assert total(scrape(down), "llmslo_proxy_upstream_errors_total", kind="connect") == 1


def test_upstream_hangs_before_answering(upstream: SseUpstream, proxy: ProxyServer) -> None:
    r = httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers={"x-fake": "hang"}, timeout=10)
    assert r.status_code == 504
    assert outcome_count(proxy, "engine_error") == 1
    wait_until(lambda: upstream.open_connections == 0)  # the hung upstream request was given up


@pytest.mark.parametrize("mode", ["close_mid", "hang_mid"])
def test_upstream_breaks_mid_stream(upstream: SseUpstream, proxy: ProxyServer, mode: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):  # the client must see an incomplete response, not a clean end
        httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers={"x-fake": mode}, timeout=10)
    assert outcome_count(proxy, "midstream_failure") == 1
    assert httpx.post(proxy.url + CHAT, json=STREAM_BODY).status_code == 200  # and it keeps serving


def test_malformed_sse_is_forwarded_and_counted(upstream: SseUpstream, proxy: ProxyServer) -> None:
    headers = {"x-fake": "malformed"}
    direct = httpx.post(upstream.url + CHAT, json=STREAM_BODY, headers=headers).content
    assert httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers=headers).content == direct
    series = scrape(proxy)
    assert total(series, "llmslo_proxy_stream_parse_errors_total") == 8
    assert total(series, "llmslo_proxy_time_to_first_token_seconds_count") == 0


@pytest.mark.parametrize(("mode", "status", "outcome"), [
    ("status_500", 500, "engine_error"), ("status_400", 400, "rejected"), ("status_429", 429, "rejected"),
    ("error_event", 200, "engine_error"), ("json", 200, "success"),
])
def test_upstream_status_passes_through(proxy: ProxyServer, mode: str, status: int, outcome: str) -> None:
    r = httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers={"x-fake": mode})
    assert r.status_code == status
    assert outcome_count(proxy, outcome) == 1


def test_client_cancel_closes_the_upstream_request(upstream: SseUpstream, proxy: ProxyServer) -> None:
    with httpx.Client() as client, client.stream("POST", proxy.url + CHAT, json=STREAM_BODY,
                                                 headers={"x-fake": "hang_mid"}) as r:
        next(r.iter_raw())
    wait_until(lambda: outcome_count(proxy, "client_cancel") == 1)
    wait_until(lambda: upstream.open_connections == 0)


def test_oversized_body(upstream: SseUpstream, proxy: ProxyServer) -> None:
    r = httpx.post(proxy.url + CHAT, content=b"x" * 1001)
    assert r.status_code == 413
    chunked = httpx.post(proxy.url + CHAT, content=iter([b"x" * 600, b"x" * 600]))  # no content-length
    assert chunked.status_code == 413
    assert upstream.requests == []  # nothing reached the upstream
    assert outcome_count(proxy, "rejected") == 2


def test_header_limits(upstream: SseUpstream, proxy: ProxyServer) -> None:
    many = {f"x-h{i}": "v" for i in range(30)}
    assert httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers=many).status_code == 431
    huge = {"x-big": "v" * 10_000}
    assert httpx.post(proxy.url + CHAT, json=STREAM_BODY, headers=huge).status_code == 431
    assert upstream.requests == []


def _raw(port: int, data: bytes, *, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_slowloris_head_and_slow_body(upstream: SseUpstream, proxy: ProxyServer) -> None:
    started = time.monotonic()
    answer = _raw(proxy.port, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ")
    assert answer.startswith(b"HTTP/1.1 408 ")
    answer = _raw(proxy.port, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 5.0 * 2  # both were cut by the proxy, not by our own recv timeout
    assert upstream.requests == []


def test_slow_reader_is_cut_off(upstream: SseUpstream, proxy: ProxyServer) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        body = b'{"model":"fake-model","stream":true,"messages":[]}'
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-fake-chunks: 200000\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
        wait_until(lambda: outcome_count(proxy, "client_cancel") == 1, timeout=30)
    wait_until(lambda: upstream.open_connections == 0)


def test_no_open_proxy(upstream: SseUpstream, proxy: ProxyServer) -> None:
    answer = _raw(proxy.port, b"GET http://evil.example/v1/models HTTP/1.1\r\nhost: evil.example\r\n"
                  b"connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    seen = upstream.requests[-1]
    assert seen.target == "/v1/models" and seen.headers["host"] == f"127.0.0.1:{upstream.port}"
    answer = _raw(proxy.port, b"CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert len(upstream.requests) == 1


def test_fails_open_when_recording_breaks(proxy: ProxyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("recording is broken")

    monkeypatch.setattr(Exchange, "content_sent", broken)
    monkeypatch.setattr(Exchange, "finish", broken)
    r = httpx.post(proxy.url + CHAT, json=STREAM_BODY)
    assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
    assert total(scrape(proxy), "llmslo_proxy_recording_errors_total") >= 1


def test_tenant_label_is_bounded(proxy: ProxyServer) -> None:
    with running_proxy(proxy.config.upstream, tenant_header="x-tenant", tenant_top_k=2) as bounded:
        for tenant in ("a", "b", "c", "d", 'evil"label'):
            httpx.post(bounded.url + CHAT, json=STREAM_BODY, headers={"x-tenant": tenant})
        tenants = {dict(labels).get("tenant") for (name, labels) in scrape(bounded)
                   if name == "llmslo_proxy_requests_total"}
        assert tenants == {"a", "b", "other"}


async def _one_stream(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await reader.read(-1)  # connection: close, so the answer ends at EOF
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    decoder = ChunkedDecoder()
    payload = decoder.feed(body)
    return head.split(b"\r\n", 1)[0] + b"\n" + payload if decoder.done else b"incomplete"


async def _many_streams(port: int, n: int) -> list[bytes]:
    body = b'{"model":"fake-model","stream":true,"messages":[]}'
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-fake-chunks: 16\r\nconnection: close\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    return await asyncio.gather(*(_one_stream(port, request) for _ in range(n)))


def _rss_bytes() -> int:
    gc.collect()
    # Hand freed heap back to the kernel: what glibc keeps in its arenas depends on how many streams
    # happened to be in flight at once (scheduling), not on what was leaked.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_concurrent_streams_and_no_leaks(upstream: SseUpstream) -> None:
    expected = b"HTTP/1.1 200 OK\n" + httpx.post(upstream.url + CHAT, json=STREAM_BODY,
                                                 headers={"x-fake-chunks": "16"}).content
    rss = []
    with running_proxy(upstream.url) as proxy:  # default timeouts: 1,000 streams on 2 cores take a while
        for _ in range(3):
            bodies = asyncio.run(_many_streams(proxy.port, 1000))
            assert all(b == expected for b in bodies)
            wait_until(lambda: proxy.app.in_flight == 0)
            rss.append(_rss_bytes())
        assert outcome_count(proxy, "success") == 3000
        # uvicorn's server and lifespan tasks, the watchdog and this probe: nothing is left per request.
        kinds = sorted(t.split(" object ")[1].split(" at ")[0] for t in proxy_tasks(proxy))
        assert kinds == ["LifespanOn.main", "ProxyApp._watch", "Server.serve", "proxy_tasks.<locals>.tasks"]
    # Resident memory of this process (proxy, upstream and clients): the first round sizes pools and
    # caches; a leak of even 10 KiB per request would add 10 MiB per later round.
    assert rss[2] - rss[1] < 8 * 1024 * 1024, rss


def test_no_secrets_or_text_in_metrics_or_logs(
    upstream: SseUpstream, proxy: ProxyServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    secret, prompt = "Bearer sk-very-secret", "my private prompt"
    body = {**STREAM_BODY, "messages": [{"role": "user", "content": prompt}]}
    for mode in ("stream", "close_mid", "status_500"):
        with contextlib.suppress(httpx.RemoteProtocolError):
            httpx.post(proxy.url + CHAT, json=body, headers={"authorization": secret, "x-fake": mode,
                                                            "x-tenant": prompt})
    assert upstream.requests[0].headers["authorization"] == secret  # passed on to the engine, untouched
    exposed = httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/metrics",
                        headers={"accept": "application/openmetrics-text"}).text
    for text in (exposed, caplog.text):
        assert secret not in text and "sk-very" not in text
        assert prompt not in text and "tok0" not in text
