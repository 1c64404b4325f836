"""GPU-vantage SLIs from dcgm-exporter (or NVML), in canonical units (fractions, bytes, W, J).

Field facts come from reference/dcgm-metrics.md (dcgm-exporter 4.5.3-4.8.2 default-counters.csv).
dcgm-exporter names series after DCGM fields with no `_total` on counters, and 1.x deployments
may still use the old `dcgm_*` names (etc/1.x-compatibility-metrics.csv).
"""

from __future__ import annotations

from slo.catalog.model import SLI, Instrument, Source, SourceKind, Vantage

DCGM = SourceKind.DCGM
NVML = SourceKind.NVML
MIB = 1024.0 * 1024.0
# dcgm-exporter label spellings that differ by version or flag, normalised to one: `Hostname` became
# `hostname` on main (#655); --use-old-namespace gives pod_name/pod_namespace/container_name/uuid.
# A rename to "" drops the label: the driver version and PCI bus id describe the node, not the GPU
# series, and keeping them would make every series new after a driver upgrade (breaking rate()
# and SLO windows across it); UUID and gpu already identify the device.
DCGM_LABEL_RENAMES = {
    "Hostname": "hostname",
    "pod_name": "pod",
    "pod_namespace": "namespace",
    "container_name": "container",
    "uuid": "UUID",
    "DCGM_FI_DRIVER_VERSION": "",
    "pci_bus_id": "",
}
# Labels dcgm-exporter sets that make a GPU series joinable to the pod (and so the model) using it.
GPU_LABELS = ("gpu", "UUID", "modelName", "hostname", "namespace", "pod", "container")


def _gpu(
    key: str,
    name: str,
    unit: str,
    instrument: Instrument,
    summary: str,
    definition: str,
    *sources: Source,
) -> SLI:
    return SLI(
        key=key,
        otel_name=f"llmslo.gpu.{name}",
        unit=unit,
        instrument=instrument,
        vantage=Vantage.GPU,
        summary=summary,
        definition=definition,
        labels=GPU_LABELS,
        sources=sources,
    )


def _dcgm(metric: str, scale: float = 1.0, replacement: str = "", note: str = "") -> Source:
    return Source(
        DCGM, metric, scale=scale, rename_labels=DCGM_LABEL_RENAMES, replacement=replacement, note=note
    )


_DCP = "A DCGM profiling (DCP) field: present only where the DCGM profiling module serves it."

GPU_SLIS: tuple[SLI, ...] = (
    _gpu(
        "gpu_utilization",
        "utilization",
        "1",
        Instrument.GAUGE,
        "Fraction of time a kernel was running on the GPU (0-1).",
        "Share of the last sample period during which one or more kernels executed (NVML/DCGM "
        "'GPU utilization'). Coarse: a single tiny kernel counts as busy; prefer sm_active.",
        _dcgm("DCGM_FI_DEV_GPU_UTIL", scale=0.01, note="Percent 0-100 in DCGM."),
        _dcgm("dcgm_gpu_utilization", scale=0.01, replacement="DCGM_FI_DEV_GPU_UTIL",
               note="dcgm-exporter 1.x name."),
        Source(NVML, "nvmlDeviceGetUtilizationRates().gpu", scale=0.01),
    ),
    _gpu(
        "gpu_sm_active",
        "sm_active",
        "1",
        Instrument.GAUGE,
        "Fraction of cycles an SM had at least one warp assigned (0-1).",
        "Ratio of cycles at least one warp was resident on an SM, averaged over all SMs. " + _DCP
        + " Off in dcgm-exporter's default counters.",
        _dcgm("DCGM_FI_PROF_SM_ACTIVE"),
    ),
    _gpu(
        "gpu_sm_occupancy",
        "sm_occupancy",
        "1",
        Instrument.GAUGE,
        "Resident warps relative to the SM maximum (0-1).",
        "Ratio of warps resident on an SM to the maximum it supports, averaged over SMs. " + _DCP,
        _dcgm("DCGM_FI_PROF_SM_OCCUPANCY"),
    ),
    _gpu(
        "gpu_tensor_active",
        "tensor_active",
        "1",
        Instrument.GAUGE,
        "Fraction of cycles the tensor (HMMA) pipe was active (0-1).",
        "Ratio of cycles the tensor-core pipe was active. " + _DCP,
        _dcgm("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"),
    ),
    _gpu(
        "gpu_graphics_engine_active",
        "graphics_engine_active",
        "1",
        Instrument.GAUGE,
        "Fraction of time the graphics/compute engine was active (0-1).",
        "Ratio of time the graphics engine (which runs compute too) was active. " + _DCP,
        _dcgm("DCGM_FI_PROF_GR_ENGINE_ACTIVE"),
    ),
    _gpu(
        "gpu_dram_active",
        "dram_active",
        "1",
        Instrument.GAUGE,
        "Fraction of cycles the memory interface was busy (0-1).",
        "Ratio of cycles the device memory interface was sending or receiving data. " + _DCP,
        _dcgm("DCGM_FI_PROF_DRAM_ACTIVE"),
    ),
    _gpu(
        "gpu_memory_used",
        "memory.used",
        "By",
        Instrument.GAUGE,
        "Framebuffer memory in use.",
        "Framebuffer memory used, in bytes (DCGM reports MiB).",
        _dcgm("DCGM_FI_DEV_FB_USED", scale=MIB),
        _dcgm("dcgm_fb_used", scale=MIB, replacement="DCGM_FI_DEV_FB_USED"),
        Source(NVML, "nvmlDeviceGetMemoryInfo().used"),
    ),
    _gpu(
        "gpu_memory_free",
        "memory.free",
        "By",
        Instrument.GAUGE,
        "Framebuffer memory free.",
        "Framebuffer memory free, in bytes (DCGM reports MiB).",
        _dcgm("DCGM_FI_DEV_FB_FREE", scale=MIB),
        _dcgm("dcgm_fb_free", scale=MIB, replacement="DCGM_FI_DEV_FB_FREE"),
        Source(NVML, "nvmlDeviceGetMemoryInfo().free"),
    ),
    _gpu(
        "gpu_memory_reserved",
        "memory.reserved",
        "By",
        Instrument.GAUGE,
        "Framebuffer memory reserved by the driver.",
        "Framebuffer memory reserved, in bytes (DCGM reports MiB). used + free + reserved = total.",
        _dcgm("DCGM_FI_DEV_FB_RESERVED", scale=MIB),
    ),
    _gpu(
        "gpu_power",
        "power",
        "W",
        Instrument.GAUGE,
        "Power draw.",
        "Instantaneous board power draw in watts.",
        _dcgm("DCGM_FI_DEV_POWER_USAGE"),
        _dcgm("dcgm_power_usage", replacement="DCGM_FI_DEV_POWER_USAGE"),
        Source(NVML, "nvmlDeviceGetPowerUsage()", scale=0.001, note="NVML reports milliwatts."),
    ),
    _gpu(
        "gpu_energy",
        "energy",
        "J",
        Instrument.COUNTER,
        "Energy consumed since the driver loaded.",
        "Total energy consumed by the board since boot/driver load, in joules (DCGM and NVML "
        "report millijoules). rate() of it is average power; divided by output tokens it is "
        "energy per token.",
        _dcgm("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", scale=0.001),
        Source(NVML, "nvmlDeviceGetTotalEnergyConsumption()", scale=0.001),
    ),
)
