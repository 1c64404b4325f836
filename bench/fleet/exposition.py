"""An engine's state -> its /metrics body in vLLM 0.32's exact text format. Pure.

Which template series the simulator drives and which it leaves as vLLM wrote them:
- driven: every vLLM histogram and token/request/prefix-cache counter, the request gauges and KV
  usage, the HTTP request counters/summaries/histograms of the two OpenAI handlers,
  `process_start_time_seconds`, `process_cpu_seconds_total` and every `_created` timestamp (shifted to
  the pod's start by the template's own offsets);
- kept: Python GC and memory gauges, `python_info`, `engine_sleep_state`, the FLOPs estimates (0 on
  CPU, which is what the capture has) and `cache_config_info` (whose capacity labels follow the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bench.fleet.engine import Engine
from bench.fleet.template import TEMPLATE_MODEL, Layout, SeriesKey
from bench.fleet.workload import ModelSpec, PodSpec
from slo.metrics.write import format_float

CPU_PER_WALL_S = 0.25  # what process_cpu_seconds_total grows by, per second of uptime
_DRIVEN_COUNTER_PREFIXES = ("vllm:", "http_requests_total", "http_request_size_bytes", "http_response_size_bytes")
_GAUGES = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:num_requests_waiting_by_reason",
           "vllm:kv_cache_usage_perc")


@dataclass(frozen=True, slots=True)
class RenderPlan:
    """The layout bound to one model: label text per line, and which slot takes which number."""

    layout: Layout
    before: tuple[str, ...]
    defaults: tuple[float, ...]
    counters: tuple[tuple[int, SeriesKey], ...]
    created: tuple[tuple[int, float], ...]  # slot, offset from process start
    start_slot: int
    cpu_slot: int
    running_slot: int
    waiting_slots: tuple[int, ...]  # num_requests_waiting and waiting_by_reason{capacity}
    kv_slot: int


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _model_text(before: str, model: ModelSpec) -> str:
    text = before.replace(f'model_name="{TEMPLATE_MODEL}"', f'model_name="{_label_value(model.name)}"')
    if text.startswith("# HELP vllm:cache_config_info") or "vllm:cache_config_info{" in text:
        blocks = model.kv_cache_tokens // 128
        text = (text.replace('num_gpu_blocks="8192"', f'num_gpu_blocks="{blocks}"')
                .replace('kv_cache_size_tokens="1048576"', f'kv_cache_size_tokens="{model.kv_cache_tokens}"')
                .replace('kv_cache_max_concurrency="1024.0"',
                         f'kv_cache_max_concurrency="{model.kv_cache_tokens / model.max_model_len}"'))
    return text


@lru_cache(maxsize=64)
def render_plan(layout: Layout, model: ModelSpec) -> RenderPlan:
    template_start = layout.slots[layout.slot_of("process_start_time_seconds")].value
    counters: list[tuple[int, SeriesKey]] = []
    created: list[tuple[int, float]] = []
    for i, slot in enumerate(layout.slots):
        if slot.mtype == "histogram":
            continue
        if slot.series.endswith("_created"):
            created.append((i, slot.value - template_start))
        elif slot.mtype in ("counter", "summary") and slot.series.startswith(_DRIVEN_COUNTER_PREFIXES) \
                and not slot.series.startswith("vllm:estimated_"):
            counters.append((i, slot.key()))
    return RenderPlan(
        layout=layout,
        before=tuple(_model_text(b, model) for b in layout.before),
        defaults=tuple(layout.defaults()),
        counters=tuple(counters),
        created=tuple(created),
        start_slot=layout.slot_of("process_start_time_seconds"),
        cpu_slot=layout.slot_of("process_cpu_seconds_total"),
        running_slot=layout.slot_of(_GAUGES[0]),
        waiting_slots=(layout.slot_of(_GAUGES[1]), layout.slot_of(_GAUGES[2], reason="capacity")),
        kv_slot=layout.slot_of(_GAUGES[3]),
    )


def engine_values(plan: RenderPlan, engine: Engine) -> list[float]:
    """Every slot's number for the engine at `engine.now`."""
    values = list(plan.defaults)
    pod: PodSpec = engine.pod
    counters = engine.counters
    for slot, key in plan.counters:
        values[slot] = counters.get(key, 0.0)
    for slot, offset in plan.created:
        values[slot] = pod.process_start + offset
    values[plan.start_slot] = pod.process_start
    values[plan.cpu_slot] = round(max(0.0, engine.now - pod.process_start) * CPU_PER_WALL_S, 2)
    gauges = engine.gauges()
    values[plan.running_slot] = gauges.running
    for slot in plan.waiting_slots:
        values[slot] = gauges.waiting
    values[plan.kv_slot] = gauges.kv_cache_usage
    for key, where in plan.layout.histograms.items():
        hist = engine.hist[key]
        running = 0
        for slot, count in zip(where.bucket_slots, hist.counts, strict=True):
            running += count
            values[slot] = running
        values[where.sum_slot] = hist.total
        values[where.count_slot] = hist.count
    return values


def render(plan: RenderPlan, engine: Engine) -> str:
    values = engine_values(plan, engine)
    return "".join([f"{b}{format_float(v)}\n" for b, v in zip(plan.before, values, strict=True)]) + plan.layout.tail
