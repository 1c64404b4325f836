"""The serving overview: traffic, latency, saturation and caches per model, with a per-pod drill-down
and the client's view (proxy) beside the engine's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboards.grafana import panels as p
from dashboards.grafana.encode import dashboard
from dashboards.grafana.layout import Section
from dashboards.grafana.panels import Step
from dashboards.grafana.query import PromTarget
from dashboards.llm import common as c
from dashboards.llm import promql as q
from slo.catalog import get

UID = "llmslo-serving"
MODEL = ("model_name",)
POD = ("model_name", "pod", "engine")

KV_STEPS = (Step(0.8, "orange"), Step(0.95, "red"))
ERROR_STEPS = (Step(0.001, "orange"), Step(0.01, "red"))


def _doc(key: str, how: str) -> str:
    return c.describe(get(key).definition, how)


def _quantiles(key: str, group: Sequence[str], legend: str,
               filters: Sequence[str] = q.ENGINE_FILTERS) -> list[PromTarget]:
    return [PromTarget(q.quantile(pct, key, group, filters), f"{legend} p{pct * 100:g}") for pct in c.PERCENTILES]


def _latency(key: str, title: str) -> Any:
    return p.timeseries(
        title, _doc(key, "p50, p90 and p99 per model, from the histogram's bucket rates summed over every "
                         "pod (histogram_quantile of sum by (le)), so the quantile is the model's, not an "
                         "average of pods'."),
        _quantiles(key, MODEL, "{{model_name}}"), unit=c.SECONDS, no_value=c.NO_TRAFFIC,
    )


def _error_ratio(outcome: str, group: Sequence[str]) -> str:
    total = q.sum_rate("requests", group)
    failed = q.or_zero(q.sum_rate("requests", group, extra=(f'outcome="{outcome}"',)), total)
    return q.divide(failed, total)


def _overview() -> Section:
    total = q.sum_rate("requests", MODEL)
    return Section("Overview per model", (
        p.stat("Requests/s", _doc("requests", "Finished requests per second, per model, all outcomes."),
               [PromTarget(total, "{{model_name}}")], unit=c.REQ_PER_S, no_value=c.NO_TRAFFIC),
        p.stat("Error ratio", _doc("requests", 'Share of finished requests with outcome="error" per model '
                                               "(aborts are shown apart: the engine cannot tell a client "
                                               "disconnect from a server abort)."),
               [PromTarget(_error_ratio("error", MODEL), "{{model_name}}")], unit=c.RATIO, steps=ERROR_STEPS,
               no_value=c.NO_TRAFFIC, mappings=p.nan_as(c.NO_TRAFFIC)),
        p.stat("TTFT p90 (engine)", _doc("ttft", "90th percentile per model over the rate window."),
               [PromTarget(q.quantile(0.9, "ttft", MODEL), "{{model_name}}")], unit=c.SECONDS,
               no_value=c.NO_TRAFFIC),
        p.stat("TPOT p90", _doc("tpot", "90th percentile per model over the rate window."),
               [PromTarget(q.quantile(0.9, "tpot", MODEL), "{{model_name}}")], unit=c.SECONDS,
               no_value=c.NO_TRAFFIC),
        p.stat("Output tokens/s", _doc("output_tokens", "Output tokens generated per second, per model."),
               [PromTarget(q.sum_rate("output_tokens", MODEL), "{{model_name}}")], unit=c.TOKENS_PER_S,
               no_value=c.NO_TRAFFIC),
        p.stat("KV-cache usage (max pod)", _doc("kv_cache_usage", "The fullest pod's KV cache, per model."),
               [PromTarget(f"max by (model_name) ({q.selector('kv_cache_usage')})", "{{model_name}}")],
               unit=c.RATIO, steps=KV_STEPS, min_=0, max_=1),
    ))


def _traffic() -> Section:
    total = q.sum_rate("requests", MODEL)
    return Section("Traffic and errors", (
        p.timeseries("Requests/s by outcome", _doc("requests", "Finished requests per second by outcome, per model."),
                     [PromTarget(q.sum_rate("requests", (*MODEL, "outcome")), "{{model_name}} {{outcome}}")],
                     unit=c.REQ_PER_S, stacked=True, no_value=c.NO_TRAFFIC),
        p.timeseries("Errors and aborts", _doc("requests", "Share of finished requests that ended in error, and "
                                                           "in abort, per model, over the rate window."),
                     [PromTarget(_error_ratio("error", MODEL), "{{model_name}} error"),
                      PromTarget(_error_ratio("abort", MODEL), "{{model_name}} abort")],
                     unit=c.RATIO, steps=ERROR_STEPS, min_=0, no_value=c.NO_TRAFFIC,
                     mappings=p.nan_as(c.NO_TRAFFIC)),
        p.timeseries("Input and output tokens/s",
                     _doc("input_tokens", "Prompt tokens (input) and generated tokens (output) per second, per model. "
                                          "Output: " + get("output_tokens").definition),
                     [PromTarget(q.sum_rate("input_tokens", MODEL), "{{model_name}} input"),
                      PromTarget(q.sum_rate("output_tokens", MODEL), "{{model_name}} output")],
                     unit=c.TOKENS_PER_S, no_value=c.NO_TRAFFIC),
        p.timeseries("Request size (mean tokens)", _doc("request_input_tokens", "Mean input and output length of "
                                                                               "finished requests, per model."),
                     [PromTarget(q.mean("request_input_tokens", MODEL), "{{model_name}} input"),
                      PromTarget(q.mean("request_output_tokens", MODEL), "{{model_name}} output")],
                     unit=c.COUNT, no_value=c.NO_TRAFFIC),
        p.timeseries("Finish reasons", _doc("requests", "Share of finished requests per finish reason, per model: "
                                                        "a rising `length` share means answers cut at max_tokens."),
                     [PromTarget(q.divide(q.sum_rate("requests", (*MODEL, "finished_reason")), total, on=MODEL),
                                 "{{model_name}} {{finished_reason}}")],
                     unit=c.RATIO, min_=0, max_=1, stacked=True, no_value=c.NO_TRAFFIC, width=16),
    ))


def _latency_section() -> Section:
    phases = [PromTarget(q.mean(key, MODEL), f"{{{{model_name}}}} {key}") for key in ("queue", "prefill", "decode")]
    return Section("Latency (engine)", (
        _latency("ttft", "Time to first token"),
        _latency("tpot", "Time per output token"),
        _latency("itl", "Inter-token latency"),
        _latency("e2e", "End-to-end latency"),
        p.timeseries("Request phases (mean)",
                     c.describe(" ".join(get(k).definition for k in ("queue", "prefill", "decode")),
                                "Mean time per finished request in each phase (queue, prefill, decode), per model: "
                                "rate of the histogram sum over rate of its count, a mean latency in seconds."),
                     phases, unit=c.SECONDS, stacked=True, no_value=c.NO_TRAFFIC),
        p.timeseries("Queue time", _doc("queue", "p50, p90 and p99 per model."),
                     _quantiles("queue", MODEL, "{{model_name}}"), unit=c.SECONDS, no_value=c.NO_TRAFFIC),
    ))


def _saturation() -> Section:
    return Section("Saturation and caches", (
        p.timeseries("Running and waiting requests",
                     _doc("requests_waiting", "Requests in the running batch and waiting in the queue, summed over "
                                              "the model's pods. Running: " + get("requests_running").definition),
                     [PromTarget(f"sum by (model_name) ({q.selector('requests_running')})", "{{model_name}} running"),
                      PromTarget(f"sum by (model_name) ({q.selector('requests_waiting')})", "{{model_name}} waiting")],
                     unit=c.COUNT),
        p.timeseries("KV-cache usage", _doc("kv_cache_usage", "Per pod and engine; orange from 80 %, red from 95 %."),
                     [PromTarget(f"max by (model_name, pod, engine) ({q.selector('kv_cache_usage')})",
                                 "{{model_name}} {{pod}}/{{engine}}")],
                     unit=c.RATIO, steps=KV_STEPS, min_=0, max_=1),
        p.timeseries("Prefix-cache hit ratio",
                     _doc("prefix_cache_hits", "Hit tokens over queried tokens per model, both as rates over the "
                                               "same window (never a ratio of lifetime totals)."),
                     [PromTarget(q.divide(q.sum_rate("prefix_cache_hits", MODEL),
                                          q.sum_rate("prefix_cache_queries", MODEL)), "{{model_name}}")],
                     unit=c.RATIO, min_=0, max_=1, no_value=c.NO_TRAFFIC, mappings=p.nan_as(c.NO_TRAFFIC)),
        p.timeseries("Preemptions/s", _doc("preemptions", "Preemptions per second per pod and engine."),
                     [PromTarget(q.sum_rate("preemptions", POD), "{{model_name}} {{pod}}/{{engine}}")],
                     unit="ops", min_=0, no_value=c.NO_TRAFFIC, width=16),
    ))


def _client() -> Section:
    proxy = q.PROXY_FILTERS
    engine_vs_client = [
        PromTarget(q.quantile(0.9, "proxy_ttft", MODEL, proxy), "{{model_name}} client (proxy) p90"),
        PromTarget(q.quantile(0.9, "ttft", MODEL), "{{model_name}} engine p90"),
    ]
    e2e = [
        PromTarget(q.quantile(0.9, "proxy_e2e", MODEL, proxy), "{{model_name}} client (proxy) p90"),
        PromTarget(q.quantile(0.9, "e2e", MODEL), "{{model_name}} engine p90"),
    ]
    return Section("Client view (proxy) beside the engine", (
        p.timeseries("TTFT: client vs engine",
                     c.describe(get("proxy_ttft").definition + " Engine: " + get("ttft").definition,
                                "p90 per model as the client sees it (llmslo proxy) and as the engine measures it; "
                                "the gap is network, proxy and tokenisation before the engine's clock starts. "
                                "Needs the llmslo proxy in front of the engine for the client series."),
                     engine_vs_client, unit=c.SECONDS, no_value=c.NO_TRAFFIC),
        p.timeseries("End-to-end: client vs engine",
                     c.describe(get("proxy_e2e").definition, "p90 per model, client (proxy) and engine. Needs the "
                                                              "llmslo proxy for the client series."),
                     e2e, unit=c.SECONDS, no_value=c.NO_TRAFFIC),
        p.timeseries("Client outcomes", c.describe(get("proxy_requests").definition,
                                                   "Requests per second through the proxy by outcome, per model."),
                     [PromTarget(q.sum_rate("proxy_requests", (*MODEL, "outcome"), filters=proxy),
                                 "{{model_name}} {{outcome}}")],
                     unit=c.REQ_PER_S, stacked=True, no_value=c.NO_TRAFFIC),
    ))


def _drilldown() -> Section:
    return Section("Per pod and engine", (
        p.timeseries("TTFT p90 by pod", _doc("ttft", "p90 per pod and engine."),
                     [PromTarget(q.quantile(0.9, "ttft", POD), "{{pod}}/{{engine}}")], unit=c.SECONDS,
                     no_value=c.NO_TRAFFIC),
        p.timeseries("TPOT p90 by pod", _doc("tpot", "p90 per pod and engine."),
                     [PromTarget(q.quantile(0.9, "tpot", POD), "{{pod}}/{{engine}}")], unit=c.SECONDS,
                     no_value=c.NO_TRAFFIC),
        p.timeseries("Requests/s by pod", _doc("requests", "Finished requests per second per pod and engine."),
                     [PromTarget(q.sum_rate("requests", POD), "{{pod}}/{{engine}}")], unit=c.REQ_PER_S,
                     no_value=c.NO_TRAFFIC),
        p.timeseries("Output tokens/s by pod", _doc("output_tokens", "Per pod and engine."),
                     [PromTarget(q.sum_rate("output_tokens", POD), "{{pod}}/{{engine}}")], unit=c.TOKENS_PER_S,
                     no_value=c.NO_TRAFFIC),
        p.timeseries("Waiting requests by pod", _doc("requests_waiting", "Per pod and engine."),
                     [PromTarget(f"sum by (model_name, pod, engine) ({q.selector('requests_waiting')})",
                                 "{{pod}}/{{engine}}")], unit=c.COUNT),
        p.timeseries("Error ratio by pod", _doc("requests", 'Share of requests with outcome="error" per pod.'),
                     [PromTarget(_error_ratio("error", POD), "{{pod}}/{{engine}}")], unit=c.RATIO,
                     steps=ERROR_STEPS, no_value=c.NO_TRAFFIC, mappings=p.nan_as(c.NO_TRAFFIC)),
    ), collapsed=True)


def build() -> dict[str, Any]:
    return dashboard(
        uid=UID, title="LLM serving overview",
        description="Canonical engine SLIs per model (llmslo sidecars in front of vLLM), with the client's view "
                    "from the llmslo proxy where it runs.",
        tags=(*c.TAGS, "serving"), variables=c.engine_variables(),
        sections=(_overview(), _traffic(), _latency_section(), _saturation(), _client(), _drilldown()),
        links=c.links(),
    )
