"""llmslo's proxy in front of a REAL vLLM: the client sees what it would see without the proxy,
and the proxy's counts equal the engine's."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.real_vllm import VllmServer
from support.tcp_relay import running_relay

from exporters.proxy.server import ProxyServer

from .harness import Series, running_proxy, scrape, total

pytestmark = pytest.mark.e2e

_ID = re.compile(r'"id":"[^"]*"')
_CREATED = re.compile(r'"created":\d+')


def normalise(text: str) -> str:
    """Ids and timestamps differ from request to request; everything else must not."""
    return _CREATED.sub('"created":0', _ID.sub('"id":"X"', text))


@pytest.fixture(scope="module")
def proxy(real_vllm: VllmServer) -> Iterator[ProxyServer]:
    with running_proxy(real_vllm.base_url, tenant_header="x-tenant", namespace="e2e", pod="vllm-0") as server:
        yield server


def _body(server: VllmServer, route: str, *, stream: bool, usage: bool | None, max_tokens: int = 6) -> dict[str, Any]:
    body: dict[str, Any] = {"model": server.model, "max_tokens": max_tokens, "temperature": 0.0, "ignore_eos": True,
                            "stream": stream}
    if route == "/v1/chat/completions":
        body["messages"] = [{"role": "user", "content": "The proxy test says hello"}]
    else:
        body["prompt"] = "The proxy test says hello"
    if usage is not None:
        body["stream_options"] = {"include_usage": usage}
    return body


def engine(server: VllmServer) -> Series:
    text = httpx.get(server.metrics_url, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
@pytest.mark.parametrize(("stream", "usage"), [(True, None), (True, False), (True, True), (False, None)],
                         ids=["stream", "stream-usage-false", "stream-usage-true", "not-streamed"])
def test_client_sees_what_it_would_see_without_the_proxy(
    real_vllm: VllmServer, proxy: ProxyServer, route: str, stream: bool, usage: bool | None
) -> None:
    body = _body(real_vllm, route, stream=stream, usage=usage)
    with httpx.Client(timeout=120) as client:
        direct = client.post(real_vllm.base_url + route, json=body)
        proxied = client.post(proxy.url + route, json=body, headers={"x-tenant": "acme"})
    assert proxied.status_code == direct.status_code == 200
    assert proxied.headers["content-type"] == direct.headers["content-type"]
    assert normalise(proxied.text) == normalise(direct.text)
    if stream:  # the same chunk sequence, event by event; the usage chunk only when asked for
        events = [e for e in normalise(proxied.text).split("\n\n") if e]
        assert events == [e for e in normalise(direct.text).split("\n\n") if e]
        assert events[-1] == "data: [DONE]"
        assert any('"usage"' in e for e in events) is bool(usage)


def test_counts_equal_the_engine(real_vllm: VllmServer, proxy: ProxyServer) -> None:
    before_engine, before = engine(real_vllm), scrape(proxy)
    sent = 0
    with httpx.Client(timeout=120) as client:
        for route in ("/v1/chat/completions", "/v1/completions"):
            for stream, usage in ((True, None), (True, True), (False, None)):
                body = _body(real_vllm, route, stream=stream, usage=usage, max_tokens=5 + sent)
                assert client.post(proxy.url + route, json=body, headers={"x-tenant": "team-a"}).status_code == 200
                sent += 1
    after_engine, after = engine(real_vllm), scrape(proxy)

    def delta(a: Series, b: Series, name: str, **match: str) -> float:
        return total(b, name, **match) - total(a, name, **match)

    labels = {"tenant": "team-a", "model_name": real_vllm.model}
    prompt = delta(before_engine, after_engine, "vllm:prompt_tokens_total")
    generated = delta(before_engine, after_engine, "vllm:generation_tokens_total")
    assert generated == sum(5 + i for i in range(sent))  # ignore_eos: exactly max_tokens each
    assert delta(before, after, "llmslo_proxy_input_tokens_total", **labels) == prompt
    assert delta(before, after, "llmslo_proxy_output_tokens_total", **labels) == generated
    assert delta(before, after, "llmslo_proxy_time_to_first_token_seconds_count", **labels) == sent
    assert delta(before, after, "llmslo_proxy_requests_total", outcome="success", **labels) == sent
    assert delta(before, after, "llmslo_proxy_time_per_output_token_seconds_count", **labels) == 4  # the streamed


def test_cancel_mid_stream_closes_the_upstream_and_the_engine_lets_go(real_vllm: VllmServer) -> None:
    """A client that goes away mid-stream makes the proxy close its upstream connection at once,
    which is how vLLM learns to abort.

    The check is made on the wire, through a relay between the proxy and vLLM that holds back
    all but the first 8 KiB of each answer, so the answer is certainly incomplete when the client
    leaves. What the engine does after that is its own timing, not the proxy's: measured directly
    against vLLM 0.32 without the proxy, 2 of 8 clients that left after 5 chunks of a 900-token
    stream still had 293 and 900 tokens generated, because this tiny model can generate the whole
    answer before the disconnect reaches the engine. And vLLM 0.32 does not count frontend aborts in
    request_success_total{finished_reason="abort"} (OutputProcessor.abort_requests drops the request
    without finished stats). So the engine's side is held only to letting go of the request.
    """
    host, port = real_vllm.base_url.removeprefix("http://").rsplit(":", 1)
    with running_relay(host, int(port), hold_after=8192) as relay, \
            running_proxy(relay.url, tenant_header="x-tenant", namespace="e2e", pod="vllm-0") as proxy:
        before = scrape(proxy)
        body = _body(real_vllm, "/v1/completions", stream=True, usage=None, max_tokens=900)
        with httpx.Client(timeout=120) as client, client.stream("POST", proxy.url + "/v1/completions", json=body) as r:
            lines = 0
            for line in r.iter_lines():
                lines += line.startswith("data:")
                if lines == 5:
                    break  # the client goes away mid-stream
        left = time.monotonic()
        assert lines == 5
        deadline = left + 30
        while time.monotonic() < deadline and relay.links[-1].client_closed is None:
            time.sleep(0.01)
        link = relay.links[-1]
        assert link.client_closed is not None, "the proxy kept its upstream connection after the client left"
        # Nothing else closes it this side of the proxy's 300 s idle timeout: the relay withholds the rest
        # of the answer. 10 s leaves room for a descheduled process on a small CI machine.
        assert link.client_closed - left < 10.0, link.client_closed - left
        while time.monotonic() < deadline:
            now = engine(real_vllm)
            if total(now, "vllm:num_requests_running") == 0 and total(now, "vllm:num_requests_waiting") == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("vLLM still holds the request 30 s after the client left")
        after = scrape(proxy)
    assert total(after, "llmslo_proxy_requests_total", outcome="client_cancel") - total(
        before, "llmslo_proxy_requests_total", outcome="client_cancel") == 1
