"""The demo's load: tenants streaming chat and completion requests through the proxy, phase by phase.

It measures what it sends itself (TTFT to the first content chunk, tokens from the response's usage),
so the report can hold the pipeline's SLIs against an independent measurement.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

from llmslo_demo.config import SERVED_MODEL, TENANT_HEADER, DemoConfig, Phase, Tenant

WARMUP_REQUESTS = 3
WORDS = ("token", "latency", "budget", "burn", "queue", "prefill", "decode", "cache", "tenant", "model",
         "stream", "engine", "gpu", "window", "alert", "page", "ticket", "objective", "bucket", "rate")


@dataclass(frozen=True)
class RequestRecord:
    tenant: str
    phase: str
    route: str
    started: float  # unix seconds
    ttft_s: float | None  # None: no content arrived
    e2e_s: float
    prompt_tokens: int
    completion_tokens: int
    status: int
    error: str = ""
    started_mono: float = 0.0  # the client's monotonic clock at the start, to place its stalls
    stalled_s: float = 0.0  # how long the client's event loop stood still inside the TTFT window

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


@dataclass
class StallMonitor:
    """The stretches in which the load generator's event loop did not run (descheduled, or busy).

    A first token that arrives in such a stretch is read when it ends, so the report can discount
    them from the client's TTFT instead of blaming the proxy for the client's own lateness."""

    tick_s: float = 0.01
    min_stall_s: float = 0.02  # shorter ones are the loop's ordinary work, left in the lag bound
    stalls: list[tuple[float, float]] = field(default_factory=list)  # monotonic (from, to), in order

    async def run(self) -> None:
        while True:
            due = time.monotonic() + self.tick_s
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            if now - due > self.min_stall_s:
                self.stalls.append((due, now))

    def inside(self, start: float, end: float) -> float:
        """Seconds of stall between ``start`` and ``end``."""
        total = 0.0
        for lo, hi in self.stalls[max(0, bisect.bisect_left(self.stalls, (start,)) - 1):]:
            if lo >= end:
                break
            total += max(0.0, min(hi, end) - max(lo, start))
        return total


def _pick_tenant(rng: random.Random, tenants: tuple[Tenant, ...]) -> Tenant:
    return rng.choices(tenants, weights=[t.weight for t in tenants])[0]


def _body(rng: random.Random, tenant: Tenant, chat: bool) -> dict[str, object]:
    prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 160)))
    body: dict[str, object] = {
        "model": SERVED_MODEL, "max_tokens": rng.randint(*tenant.max_tokens), "stream": True,
        "stream_options": {"include_usage": True}, "ignore_eos": True, "temperature": 0.0,
    }
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


async def one_request(client: httpx.AsyncClient, rng: random.Random, tenant: Tenant, phase: str) -> RequestRecord:
    chat = rng.random() < 0.5
    route = "/v1/chat/completions" if chat else "/v1/completions"
    body = _body(rng, tenant, chat)
    started, t0 = time.time(), time.monotonic()
    ttft: float | None = None
    usage: dict[str, int] = {}
    status = 0
    try:
        async with client.stream("POST", route, json=body, headers={TENANT_HEADER: tenant.name}) as response:
            status = response.status_code
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line.endswith("[DONE]"):
                    continue
                if ttft is not None and '"usage"' not in line:
                    continue  # past the first token only the usage matters: keep the client's own lag small
                chunk = json.loads(line[5:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if ttft is None and any(
                    (ch.get("text") or (ch.get("delta") or {}).get("content")) for ch in chunk.get("choices", ())
                ):
                    ttft = time.monotonic() - t0
    except (httpx.HTTPError, ValueError) as exc:
        return RequestRecord(tenant.name, phase, route, started, ttft, time.monotonic() - t0,
                             0, 0, status, f"{type(exc).__name__}: {exc}", started_mono=t0)
    return RequestRecord(tenant.name, phase, route, started, ttft, time.monotonic() - t0,
                         int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), status,
                         "" if usage else "no usage in the stream", started_mono=t0)


async def _client_loop(client: httpx.AsyncClient, rng: random.Random, cfg: DemoConfig, phase: Phase,
                       until: float, out: list[RequestRecord]) -> None:
    while time.monotonic() < until:
        out.append(await one_request(client, rng, _pick_tenant(rng, cfg.tenants), phase.name))


async def run_load(cfg: DemoConfig, proxy_url: str, on_phase: Callable[[Phase], None] = lambda p: None,
                   stop: asyncio.Event | None = None) -> list[RequestRecord]:
    """Run the phases in order; requests in flight at a phase's end finish (they are part of it)."""
    records: list[RequestRecord] = []
    monitor = StallMonitor()
    watching = asyncio.create_task(monitor.run())
    try:
        await _phases(cfg, proxy_url, on_phase, stop, records)
    finally:
        watching.cancel()
    return [replace(r, stalled_s=monitor.inside(r.started_mono, r.started_mono + r.ttft_s))
            if r.ttft_s is not None else r for r in records]


async def _phases(cfg: DemoConfig, proxy_url: str, on_phase: Callable[[Phase], None],
                  stop: asyncio.Event | None, records: list[RequestRecord]) -> None:
    limits = httpx.Limits(max_connections=max(p.concurrency for p in cfg.phases) + 4)
    async with httpx.AsyncClient(base_url=proxy_url, timeout=httpx.Timeout(300.0), limits=limits) as client:
        # A fresh vLLM is slow on its first requests (warm-up); they go through the proxy like all
        # others, so every count still matches, but they are too few to reach the SLO's min_traffic.
        rng = random.Random(cfg.seed)
        for _ in range(WARMUP_REQUESTS):
            records.append(await one_request(client, rng, cfg.tenants[0], "warmup"))
        for i, phase in enumerate(cfg.phases):
            if stop is not None and stop.is_set():
                break
            on_phase(phase)
            until = time.monotonic() + phase.seconds
            rngs = [random.Random(cfg.seed * 1000 + i * 100 + k) for k in range(phase.concurrency)]
            await asyncio.gather(*(_client_loop(client, r, cfg, phase, until, records) for r in rngs))
