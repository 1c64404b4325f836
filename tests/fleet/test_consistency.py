"""Internal consistency of the simulator, over many seeds and sizes (hypothesis), and determinism."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fleet import Fleet, FleetSpec, SimRequest, TenantSpec, export_request
from slo.metrics.model import MetricFamily
from slo.metrics.parse import parse_exposition

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _value(fam: MetricFamily, suffix: str = "", **labels: str) -> float:
    for s in fam.samples:
        if s.name.endswith(suffix) and all(s.label(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no {fam.name}{suffix}{labels}")


def _run(pods: int, seed: int, points: list[float], rate: float = 2.0) -> tuple[Fleet, list[list[SimRequest]]]:
    """Advance to each of `points` (seconds after the fleet start, ascending) in turn."""
    fleet = Fleet(FleetSpec(pods=pods, seed=seed, rate_per_pod=rate, abort_prob=0.05), keep_finished=True)
    for point in points:
        fleet.advance_all(fleet.spec.start + point)
    return fleet, [list(fleet.drain(i)) for i in range(pods)]


@FAST
@given(seed=st.integers(0, 2**32), pods=st.integers(1, 4),
       points=st.lists(st.floats(0.0, 90.0), min_size=1, max_size=6))
def test_histograms_counters_and_requests_agree(seed: int, pods: int, points: list[float]) -> None:
    fleet, finished = _run(pods, seed, sorted(points))
    for i in range(pods):
        engine = fleet.engines[i]
        done = finished[i]
        served = [r for r in done if not r.aborted]
        fams = parse_exposition(fleet.metrics(i), require_final_newline=True)
        assert fams.ok
        f = fams.families
        success = f["vllm:request_success_total"]
        for reason in ("stop", "length", "abort"):
            assert _value(success, finished_reason=reason) == sum(r.finished_reason == reason for r in done)
        for name in ("vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds",
                     "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds",
                     "vllm:request_inference_time_seconds", "vllm:request_time_per_output_token_seconds",
                     "vllm:request_prompt_tokens", "vllm:request_generation_tokens"):
            assert _value(f[name], "_count") == len(served), name
        # TTFT is recorded at the first token: finished and in-flight requests that got one.
        started = [r for r in [*done, *engine.inflight.values()] if r.completion_tokens and r.first_token <= engine.now]
        assert _value(f["vllm:time_to_first_token_seconds"], "_count") == len(started)
        assert _value(f["vllm:prompt_tokens_total"]) == sum(r.prompt_tokens for r in done)
        assert _value(f["vllm:generation_tokens_total"]) == sum(r.completion_tokens for r in done)
        assert _value(f["vllm:prefix_cache_hits_total"]) == sum(r.cached_tokens for r in done)
        assert _value(f["vllm:request_generation_tokens"], "_sum") == sum(r.completion_tokens for r in served)
        assert _value(f["vllm:iteration_tokens_total"], "_sum") == sum(r.prompt_tokens + r.completion_tokens
                                                                      for r in served)
        assert _value(f["vllm:inter_token_latency_seconds"], "_count") == sum(r.completion_tokens - 1 for r in served)
        assert _value(f["http_requests_total"], handler="/v1/chat/completions") + \
            _value(f["http_requests_total"], handler="/v1/completions") == len(served)
        for fam in f.values():
            buckets: dict[tuple[tuple[str, str], ...], list[float]] = {}
            for s in fam.samples:
                if s.name.endswith("_bucket"):
                    buckets.setdefault(tuple(kv for kv in s.labels if kv[0] != "le"), []).append(s.value)
            for series in buckets.values():
                assert series == sorted(series), fam.name
        assert 0 <= _value(f["vllm:num_requests_running"]) <= fleet.pods[i].model.max_num_seqs
        assert 0.0 <= _value(f["vllm:kv_cache_usage_perc"]) <= 1.0
        assert _value(f["vllm:num_requests_waiting"]) == _value(f["vllm:num_requests_waiting_by_reason"],
                                                                reason="capacity")


@FAST
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.floats(0.0, 1.0), max_size=8))
def test_time_slicing_does_not_change_the_outcome(seed: int, cuts: list[float]) -> None:
    """Advancing in one step or many gives byte-identical bodies and spans: the model is pure in time."""
    total = 90.0
    one, one_done = _run(2, seed, [total])
    many, many_done = _run(2, seed, [*sorted(c * total for c in cuts), total])
    assert [one.metrics(i) for i in range(2)] == [many.metrics(i) for i in range(2)]
    assert one_done == many_done


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_same_seed_same_fleet_other_seed_other_fleet(seed: int) -> None:
    a, a_done = _run(3, seed, [60.0])
    b, b_done = _run(3, seed, [60.0])
    c, _ = _run(3, seed + 1, [60.0])
    assert [a.metrics(i) for i in range(3)] == [b.metrics(i) for i in range(3)]
    spans_a = export_request(list(zip(a.pods, a_done, strict=True))).SerializeToString()
    spans_b = export_request(list(zip(b.pods, b_done, strict=True))).SerializeToString()
    assert spans_a == spans_b
    assert [a.metrics(i) for i in range(3)] != [c.metrics(i) for i in range(3)]


def test_time_cannot_go_back() -> None:
    fleet = Fleet(FleetSpec(pods=1))
    fleet.advance(0, fleet.spec.start)
    with pytest.raises(ValueError, match="cannot go back"):
        fleet.advance(0, fleet.spec.start - 1)


def test_bad_fleet_specs_are_refused_with_every_reason() -> None:
    with pytest.raises(ValueError) as info:
        FleetSpec(pods=0, rate_per_pod=-1, abort_prob=1.5, tenants=(TenantSpec("t", 1.0, api="/v1/embeddings"),))
    for reason in ("pods must be >= 1", "rate_per_pod", "abort_prob", "api '/v1/embeddings'"):
        assert reason in str(info.value)


def test_hot_pods_queue_and_cold_pods_do_not() -> None:
    """The load spread is what makes the fleet realistic for SLO tests: some pods breach TTFT."""
    fleet = Fleet(FleetSpec(pods=12, seed=2, rate_per_pod=8.0, rate_spread=0.8, start_spread_s=0.0))
    fleet.advance_all(fleet.spec.start + 60)
    queue_p = []
    for i in range(12):
        fam = parse_exposition(fleet.metrics(i)).families["vllm:request_queue_time_seconds"]
        queue_p.append(_value(fam, "_sum") / max(1.0, _value(fam, "_count")))
    assert max(queue_p) > 0.5  # seconds of queueing on the hottest pod
    assert min(queue_p) < 0.01
