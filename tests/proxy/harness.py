"""Run llmslo's proxy in a background thread for a test, and read its metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from exporters.proxy.config import ProxyConfig
from exporters.proxy.server import ProxyServer

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@contextmanager
def running_proxy(upstream: str, **overrides: Any) -> Iterator[ProxyServer]:
    config = ProxyConfig(upstream=upstream, host="127.0.0.1", port=0, metrics_host="127.0.0.1", metrics_port=0,
                         **overrides)
    server = ProxyServer(config).start()
    try:
        yield server
    finally:
        server.stop()


def scrape(server: ProxyServer) -> Series:
    text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def total(series: Series, name: str, **match: str) -> float:
    return sum(
        v for (n, labels), v in series.items()
        if n == name and all(dict(labels).get(k) == val for k, val in match.items())
    )


def proxy_tasks(server: ProxyServer) -> list[str]:
    """Tasks alive on the proxy's event loop (the server's own plus one per request in flight)."""
    watchdog = server.app._watchdog
    if watchdog is None:
        return []
    loop = watchdog.get_loop()

    async def tasks() -> list[str]:
        return sorted(repr(t.get_coro()) for t in asyncio.all_tasks())

    return asyncio.run_coroutine_threadsafe(tasks(), loop).result(5)
