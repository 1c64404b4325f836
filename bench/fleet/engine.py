"""One simulated vLLM engine: arrivals, a queue in front of `max_num_seqs` batch slots, and the
statistics vLLM 0.32 keeps. Pure: time is an argument, randomness comes from the pod's seed.

Each request's whole timeline is decided when it arrives (FCFS onto the first free slot), so the
outcome depends only on the seed and never on how the caller slices time: advancing to t in one
call or in a thousand gives the same counters. Statistics are recorded when vLLM records them:
TTFT when the first token is out, everything else when the request finishes, so a scrape taken
mid-request shows TTFT's count ahead of e2e's, as the real capture does (21 against 20).

Simplifications, on purpose: the inter-token latency histogram gets the request's mean TPOT for
each of its `n - 1` gaps; an engine step is modelled as one prefill step of `prompt + 1` tokens and
`n - 1` decode steps of one token (so `iteration_tokens_total` sums to prompt + generated tokens,
as in the capture); there are no preemptions; `n` is always 1.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from dataclasses import dataclass

from bench.fleet.template import Labels, Layout, SeriesKey
from bench.fleet.workload import PodSpec, TenantSpec

QUEUE_OVERHEAD_S = 0.00003  # arrival -> queued in the engine core (the spans show ~20-50 us)
DETOKENIZE_S = 0.0004  # last token -> output processed (span end)
FIRST_TOKEN = 0
FINISH = 1


@dataclass(frozen=True, slots=True)
class SimRequest:
    """A request's full timeline in simulated epoch seconds, as vLLM's frontend and core see it."""

    request_id: str
    tenant: str
    api: str
    arrival: float
    scheduled: float
    first_token: float  # == scheduled when aborted before prefill ended
    last_token: float
    finished: float
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    max_tokens: int
    finished_reason: str  # stop | length | abort
    temperature: float
    top_p: float
    trace_id: bytes
    span_id: bytes

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> float:
        return self.finished - self.arrival

    @property
    def queue(self) -> float:
        return self.scheduled - (self.arrival + QUEUE_OVERHEAD_S)

    @property
    def prefill(self) -> float:
        return self.first_token - self.scheduled

    @property
    def decode(self) -> float:
        return self.last_token - self.first_token

    @property
    def inference(self) -> float:
        return self.last_token - self.scheduled

    @property
    def tpot(self) -> float:
        """vLLM's `request_time_per_output_token_seconds`: decode / (n - 1), 0 for one token."""
        return self.decode / (self.completion_tokens - 1) if self.completion_tokens > 1 else 0.0

    @property
    def aborted(self) -> bool:
        return self.finished_reason == "abort"

    def tokens_out_at(self, t: float) -> int:
        if t < self.first_token:
            return 0
        if t >= self.last_token or self.completion_tokens <= 1:
            return self.completion_tokens
        return 1 + int((t - self.first_token) / (self.decode / (self.completion_tokens - 1)))


class _Hist:
    """Non-cumulative bucket counts; the exposition cumulates them once per render."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        # vLLM (prometheus_client) puts v into the first bucket with v <= le.
        self.counts[bisect_left(self.bounds, value)] += times
        self.count += times
        self.total += value * times


@dataclass(frozen=True, slots=True)
class Gauges:
    running: int
    waiting: int
    kv_cache_usage: float  # 0..1, vLLM's kv_cache_usage_perc is a fraction despite the name


class Engine:
    """Mutable, deterministic. `advance(t)` moves the engine to simulated time t and returns the
    requests that finished in between, in finish order."""

    def __init__(self, pod: PodSpec, layout: Layout) -> None:
        self.pod = pod
        self.now = pod.process_start
        self._rng = random.Random(pod.seed)
        self._tenants: tuple[TenantSpec, ...] = pod.tenants
        self._weights = [t.weight for t in pod.tenants]
        self._next_arrival = pod.first_arrival_after + self._rng.expovariate(pod.rate)
        self._slots = [pod.first_arrival_after] * pod.model.max_num_seqs
        self._events: list[tuple[float, int, int, SimRequest]] = []
        self._seq = 0
        self.inflight: dict[str, SimRequest] = {}
        self.hist: dict[tuple[str, Labels], _Hist] = {
            key: _Hist(h.bounds) for key, h in layout.histograms.items()
        }
        self.counters: dict[SeriesKey, float] = {}
        self.arrived = 0
        h = self.hist
        self._ttft = h[("vllm:time_to_first_token_seconds", ())]
        self._finish_hists = (
            h[("vllm:e2e_request_latency_seconds", ())],
            h[("vllm:request_queue_time_seconds", ())],
            h[("vllm:request_prefill_time_seconds", ())],
            h[("vllm:request_decode_time_seconds", ())],
            h[("vllm:request_inference_time_seconds", ())],
            h[("vllm:request_time_per_output_token_seconds", ())],
        )

    # -- time -------------------------------------------------------------------------------
    def advance(self, t: float) -> list[SimRequest]:
        if t < self.now:
            raise ValueError(f"simulated time cannot go back: {t} < {self.now}")
        while self._next_arrival <= t:
            self._admit(self._next_arrival)
            self._next_arrival += self._rng.expovariate(self.pod.rate)
        finished: list[SimRequest] = []
        events = self._events
        while events and events[0][0] <= t:
            _, _, kind, req = heapq.heappop(events)
            if kind == FIRST_TOKEN:
                self._ttft.observe(req.ttft)
            else:
                self._record_finish(req)
                del self.inflight[req.request_id]
                finished.append(req)
        self.now = t
        return finished

    def gauges(self) -> Gauges:
        t = self.now
        running = waiting = 0
        kv_tokens = 0
        for req in self.inflight.values():
            if req.arrival > t or req.finished <= t:
                continue
            if t < req.scheduled:
                waiting += 1
            elif t < req.last_token:
                running += 1
                kv_tokens += req.prompt_tokens + req.tokens_out_at(t)
        return Gauges(running, waiting, min(1.0, kv_tokens / self.pod.model.kv_cache_tokens))

    # -- the queueing model -----------------------------------------------------------------
    def _admit(self, arrival: float) -> None:
        rng = self._rng
        model = self.pod.model
        tenant = rng.choices(self._tenants, self._weights)[0]
        limit = model.max_model_len - 1
        prompt = max(1, min(limit, round(rng.lognormvariate(math.log(tenant.prompt_median), tenant.prompt_sigma))))
        wanted = max(1, round(rng.lognormvariate(math.log(tenant.output_median), tenant.output_sigma)))
        max_tokens = min(tenant.max_tokens, model.max_model_len - prompt)
        completion = min(wanted, max_tokens)
        reason = "length" if wanted >= max_tokens else "stop"
        cached = 0
        if tenant.shared_prefix_tokens and rng.random() < tenant.prefix_hit_prob:
            # vLLM caches whole blocks (16 tokens by default) and always recomputes the last token.
            cached = min(tenant.shared_prefix_tokens, prompt - 1) // 16 * 16
        free_at = heapq.heappop(self._slots)
        ready = max(arrival + QUEUE_OVERHEAD_S, free_at)
        busy = sum(1 for s in self._slots if s > ready) / model.max_num_seqs
        # The scheduler admits at the next engine step: an idle engine at once, a busy one after
        # part of a decode step.
        scheduled = ready + rng.expovariate(1 / 2e-5) + rng.random() * model.tpot_s * busy
        prefill = model.prefill_overhead_s + (prompt - cached) / model.prefill_tokens_per_s
        prefill *= rng.lognormvariate(0, 0.1)
        tpot = model.tpot_s * (1 + model.tpot_batch_factor * busy) * rng.lognormvariate(0, 0.08)
        first_token = scheduled + prefill
        last_token = first_token + (completion - 1) * tpot
        finished = last_token + DETOKENIZE_S
        slot_free = last_token
        if self.pod.abort_prob and rng.random() < self.pod.abort_prob:
            # The client goes away at a uniform point of what would have been its e2e.
            reason = "abort"
            finished = arrival + rng.random() * (finished - arrival)
            if finished < first_token:
                slot_free = finished if finished >= scheduled else free_at  # a slot is held once scheduled
                scheduled = min(scheduled, finished)
                first_token = last_token = finished
                completion = 0
            else:
                completion = min(completion, 1 + int((finished - first_token) / tpot))
                last_token = first_token + (completion - 1) * tpot
                slot_free = finished
        self.arrived += 1
        req = SimRequest(
            request_id=f"cmpl-{rng.getrandbits(64):016x}-0",
            tenant=tenant.name,
            api=tenant.api,
            arrival=arrival,
            scheduled=scheduled,
            first_token=first_token,
            last_token=last_token,
            finished=finished,
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=completion,
            max_tokens=max_tokens,
            finished_reason=reason,
            temperature=tenant.temperature,
            top_p=tenant.top_p,
            trace_id=rng.getrandbits(128).to_bytes(16, "big"),
            span_id=rng.getrandbits(64).to_bytes(8, "big"),
        )
        heapq.heappush(self._slots, slot_free)
        self.inflight[req.request_id] = req
        self._seq += 1
        if completion > 0:
            heapq.heappush(self._events, (first_token, self._seq, FIRST_TOKEN, req))
        self._seq += 1
        heapq.heappush(self._events, (finished, self._seq, FINISH, req))

    # -- statistics -------------------------------------------------------------------------
    def _add(self, series: str, value: float, labels: Labels = ()) -> None:
        key = (series, labels)
        self.counters[key] = self.counters.get(key, 0.0) + value

    def _record_finish(self, req: SimRequest) -> None:
        add = self._add
        computed = req.prompt_tokens - req.cached_tokens
        add("vllm:prompt_tokens_total", req.prompt_tokens)
        add("vllm:generation_tokens_total", req.completion_tokens)
        add("vllm:prefix_cache_queries_total", req.prompt_tokens)
        add("vllm:prefix_cache_hits_total", req.cached_tokens)
        add("vllm:prompt_tokens_by_source_total", computed, (("source", "local_compute"),))
        add("vllm:prompt_tokens_by_source_total", req.cached_tokens, (("source", "local_cache_hit"),))
        add("vllm:prompt_tokens_cached_total", req.cached_tokens)
        add("vllm:prompt_tokens_cached_by_source_total", req.cached_tokens, (("source", "device"),))
        add("vllm:request_success_total", 1, (("finished_reason", req.finished_reason),))
        if req.aborted:
            return
        for hist, value in zip(self._finish_hists,
                               (req.e2e, req.queue, req.prefill, req.decode, req.inference, req.tpot), strict=True):
            hist.observe(value)
        h = self.hist
        n = req.completion_tokens
        if n > 1:
            h[("vllm:inter_token_latency_seconds", ())].observe(req.tpot, n - 1)
            h[("vllm:iteration_tokens_total", ())].observe(1, n - 1)
        h[("vllm:iteration_tokens_total", ())].observe(req.prompt_tokens + 1)
        h[("vllm:request_prompt_tokens", ())].observe(req.prompt_tokens)
        h[("vllm:request_generation_tokens", ())].observe(n)
        h[("vllm:request_max_num_generation_tokens", ())].observe(n)
        h[("vllm:request_params_n", ())].observe(1)
        h[("vllm:request_params_max_tokens", ())].observe(req.max_tokens)
        h[("vllm:request_num_preemptions", ())].observe(0)
        h[("vllm:request_prefill_kv_computed_tokens", ())].observe(computed)
        h[("http_request_duration_highr_seconds", ())].observe(req.e2e)
        h[("http_request_duration_seconds", (("handler", req.api), ("method", "POST")))].observe(req.e2e)
        handler = (("handler", req.api),)
        add("http_requests_total", 1, (("handler", req.api), ("method", "POST"), ("status", "2xx")))
        add("http_request_size_bytes_count", 1, handler)
        add("http_request_size_bytes_sum", 120 + 4 * req.prompt_tokens, handler)
        add("http_response_size_bytes_count", 1, handler)  # streamed: vLLM reports size 0
