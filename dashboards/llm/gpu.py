"""GPU efficiency: device activity, memory and power, joined to the model each pod serves.

dcgm-exporter labels a GPU with the pod it is assigned to (`namespace`, `pod`); the engine's series
carry the same pod labels and `model_name`. Multiplying a GPU series by
`group by (namespace, pod, model_name) (<engine gauge>)` (always 1) adds `model_name` to it, which is
the join none of the reference dashboards makes (so tokens per GPU-second and energy per token per
model become possible).
"""

from __future__ import annotations

from typing import Any

from dashboards.grafana import panels as p
from dashboards.grafana.encode import dashboard
from dashboards.grafana.layout import Section
from dashboards.grafana.panels import Step
from dashboards.grafana.query import PromTarget
from dashboards.llm import common as c
from dashboards.llm import promql as q
from slo.catalog import get

UID = "llmslo-gpu"
MODEL = ("model_name",)
PER_GPU = ("model_name", "pod", "gpu")
GPU_LEGEND = "{{model_name}} {{pod}} GPU {{gpu}}"
# The DCGM profiling (DCP) fields: served only where dcgm-exporter runs the profiling module.
PROFILING = ("gpu_sm_active", "gpu_sm_occupancy", "gpu_tensor_active", "gpu_dram_active", "gpu_graphics_engine_active")
MEMORY_STEPS = (Step(0.9, "orange"), Step(0.97, "red"))


def pod_models() -> str:
    """1 per (namespace, pod, model_name) that the engine sidecars report, for the selected variables."""
    return f"group by (namespace, pod, model_name) ({q.selector('requests_running')})"


def joined(expr: str) -> str:
    """A GPU expression with the `model_name` of the pod its GPU is assigned to."""
    return f"({expr}) * on (namespace, pod) group_left (model_name) {pod_models()}"


def gpu_series(key: str) -> str:
    return joined(q.selector(key, filters=q.GPU_FILTERS))


def gpu_count() -> str:
    return f"count by (model_name) ({gpu_series('gpu_utilization')})"


def tokens_per_gpu_second() -> str:
    return q.divide(q.sum_rate("output_tokens", MODEL), gpu_count())


def energy_per_token() -> str:
    energy = f"sum by (model_name) ({joined(q.rate('gpu_energy', filters=q.GPU_FILTERS))})"
    return q.divide(energy, q.sum_rate("output_tokens", MODEL))


def _doc(key: str, how: str) -> str:
    return c.describe(get(key).definition, how)


def _efficiency() -> Section:
    tpg = c.describe(get("output_tokens").definition,
                     "Output tokens per second of the model divided by the number of GPUs assigned to its pods: "
                     "tokens per GPU-second. GPUs are counted from the GPU sidecar's series joined on "
                     "(namespace, pod). Needs a GPU (dcgm-exporter or NVML).")
    ept = c.describe(get("gpu_energy").definition,
                     "Energy per output token: rate of the GPUs' energy counters over the rate of output tokens, "
                     "per model, over the same window. Needs a GPU whose driver reports total energy.")
    return Section("Efficiency per model", (
        p.stat("Output tokens per GPU-second", tpg, [PromTarget(tokens_per_gpu_second(), "{{model_name}}")],
               unit=c.TOKENS_PER_GPU_S, no_value=c.NO_TRAFFIC, width=6),
        p.stat("Energy per output token", ept, [PromTarget(energy_per_token(), "{{model_name}}")],
               unit=c.JOULES, no_value=c.NO_TRAFFIC, width=6),
        p.stat("GPUs serving", _doc("gpu_utilization", "GPUs assigned to the model's pods (needs a GPU)."),
               [PromTarget(gpu_count(), "{{model_name}}")], unit=c.COUNT, no_value=c.NO_GPU_DATA, width=6),
        p.stat("Mean GPU utilisation", _doc("gpu_utilization", "Mean over the model's GPUs (needs a GPU)."),
               [PromTarget(f"avg by (model_name) ({gpu_series('gpu_utilization')})", "{{model_name}}")],
               unit=c.RATIO, min_=0, max_=1, no_value=c.NO_GPU_DATA, width=6),
        p.timeseries("Output tokens per GPU-second", tpg, [PromTarget(tokens_per_gpu_second(), "{{model_name}}")],
                     unit=c.TOKENS_PER_GPU_S, no_value=c.NO_TRAFFIC, width=12),
        p.timeseries("Energy per output token", ept, [PromTarget(energy_per_token(), "{{model_name}}")],
                     unit=c.JOULES, no_value=c.NO_TRAFFIC, width=12),
    ))


def _activity() -> Section:
    activity = [PromTarget(f"avg by (model_name) ({gpu_series(key)})", f"{{{{model_name}}}} {key.removeprefix('gpu_')}")
                for key in PROFILING]
    return Section("Utilisation", (
        p.timeseries("GPU utilisation", _doc("gpu_utilization", "Per GPU, with the model its pod serves."),
                     [PromTarget(f"avg by (model_name, pod, gpu) ({gpu_series('gpu_utilization')})", GPU_LEGEND)],
                     unit=c.RATIO, min_=0, max_=1, no_value=c.NO_GPU_DATA, width=12),
        p.timeseries("SM, tensor and memory activity",
                     c.describe(" ".join(get(k).definition for k in PROFILING),
                                "Mean over the model's GPUs of each DCGM profiling ratio (SM active, SM occupancy, "
                                "tensor pipe, DRAM, graphics engine). A series is absent where dcgm-exporter does "
                                "not serve that profiling field (llmslo_sli_mapping_info says fidelity "
                                '"unavailable"); tensor activity near 0 while tokens flow means the model is not '
                                "using tensor cores."),
                     activity, unit=c.RATIO, min_=0, max_=1, no_value=c.NO_GPU_DATA, width=12),
    ))


def _memory_power() -> Section:
    used = q.selector("gpu_memory_used", filters=q.GPU_FILTERS)
    total = " + ".join(q.selector(k, filters=q.GPU_FILTERS) for k in ("gpu_memory_used", "gpu_memory_free",
                                                                         "gpu_memory_reserved"))
    return Section("Memory and power", (
        p.timeseries("Framebuffer memory used",
                     _doc("gpu_memory_used", "Share of the framebuffer in use per GPU: used / (used + free + "
                                             "reserved). vLLM preallocates the KV cache, so this sits near its "
                                             "--gpu-memory-utilization; see KV-cache usage for what is used."),
                     [PromTarget(f"max by (model_name, pod, gpu) ({joined(q.divide(used, f'({total})'))})",
                                 GPU_LEGEND)],
                     unit=c.RATIO, min_=0, max_=1, steps=MEMORY_STEPS, no_value=c.NO_GPU_DATA),
        p.timeseries("Framebuffer memory (bytes)", _doc("gpu_memory_used", "Bytes used per GPU."),
                     [PromTarget(f"max by (model_name, pod, gpu) ({gpu_series('gpu_memory_used')})", GPU_LEGEND)],
                     unit=c.BYTES, min_=0, no_value=c.NO_GPU_DATA),
        p.timeseries("Power draw", _doc("gpu_power", "Watts per GPU."),
                     [PromTarget(f"max by (model_name, pod, gpu) ({gpu_series('gpu_power')})", GPU_LEGEND)],
                     unit=c.WATTS, min_=0, no_value=c.NO_GPU_DATA),
    ))


def build() -> dict[str, Any]:
    return dashboard(
        uid=UID, title="LLM GPU efficiency",
        description="GPU activity, memory, power and energy from the llmslo GPU sidecar (dcgm-exporter or NVML), "
                    "joined on (namespace, pod) to the model each pod serves.",
        tags=(*c.TAGS, "gpu"), variables=c.engine_variables(),
        sections=(_efficiency(), _activity(), _memory_power()), links=c.links(),
    )
