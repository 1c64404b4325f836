"""The GPU sidecar's sources: dcgm-exporter over HTTP, or NVML read in-process, or both.

dcgm-exporter is the preferred source: it runs per node, knows which pod holds which GPU and
serves the profiling (DCP) fields NVML does not have. NVML (through nvidia-ml-py) is the fallback
for clusters without it: a sidecar in the vLLM pod sees exactly that pod's GPUs, so it can label
them with the pod itself. Both paths end in the same canonical families, named and scaled by the
catalog, so dashboards and rules do not care which one answered.

NVML is reached only through the `NvmlDevices` seam, so the mapping and the fallback logic are
tested without a GPU, and `pynvml` stays an optional dependency (extra `nvml`) imported on first use.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from exporters.config import pod_labels
from exporters.pipeline import DCGM, Processed
from exporters.sidecar import Collect, scrape_collector
from exporters.upstream import FetchError, Upstream
from slo.catalog import CATALOG, SLI, Fidelity, Instrument, SourceKind, Vantage
from slo.mapping import MappingNote, Schema
from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels

logger = logging.getLogger("llmslo.exporter")

NVML_SCHEMA = Schema("nvml", "nvml")
# dcgm-exporter failures that mean "nothing is listening (yet)", as opposed to "it answered, badly".
# Only these fall back to NVML: an exporter that answers HTTP 500 or garbage is broken and must be
# seen as broken, not papered over with another source.
FALLBACK_KINDS = frozenset({"connect", "timeout"})
# The FetchError kind for "NVML cannot be read at all" (no pynvml, no driver). It reuses a
# pre-declared kind of `llmslo_exporter_scrape_errors_total` so the counter exists from the start;
# like a refused connection, it means the source is not there.
NVML_UNAVAILABLE_KIND = "connect"


class NvmlUnavailableError(Exception):
    """NVML cannot be read at all: pynvml missing, no driver, or the device list failed."""


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU as NVML reports it, in NVML's own units. None: NVML said the field is not
    supported (or could not be read) on this GPU, so its series is left out rather than faked."""

    index: int
    uuid: str
    name: str
    utilization_gpu_percent: float | None
    memory_used_bytes: float | None
    memory_free_bytes: float | None
    power_milliwatts: float | None
    energy_millijoules: float | None


class NvmlDevices(Protocol):
    """The seam between the sidecar and the NVML library. `read` raises `NvmlUnavailableError`
    when NVML cannot be used at all; per-field problems come back as None fields instead."""

    def read(self) -> list[GpuReading]: ...


# The catalog names each NVML source by the call that provides it; this says which GpuReading field
# holds that call's answer. A catalog NVML source missing here is reported UNAVAILABLE (and a unit
# test fails), so the catalog and the reader cannot drift apart silently.
READING_FIELDS: Mapping[str, Callable[[GpuReading], float | None]] = {
    "nvmlDeviceGetUtilizationRates().gpu": lambda r: r.utilization_gpu_percent,
    "nvmlDeviceGetMemoryInfo().used": lambda r: r.memory_used_bytes,
    "nvmlDeviceGetMemoryInfo().free": lambda r: r.memory_free_bytes,
    "nvmlDeviceGetPowerUsage()": lambda r: r.power_milliwatts,
    "nvmlDeviceGetTotalEnergyConsumption()": lambda r: r.energy_millijoules,
}

_PROM_TYPE = {Instrument.GAUGE: MetricType.GAUGE, Instrument.COUNTER: MetricType.COUNTER}


def gpu_slis() -> tuple[SLI, ...]:
    return tuple(s for s in CATALOG if s.vantage is Vantage.GPU)


def nvml_to_processed(readings: Sequence[GpuReading], extra_labels: Labels = ()) -> Processed:
    """NVML readings -> the same canonical families the DCGM mapping gives, driven by the catalog.

    Labels are the ones dcgm-exporter uses for the same facts (`gpu`, `UUID`, `modelName`), so a
    dashboard that joins on them works with either source. `gpu` is NVML's index, which inside a
    container counts only the GPUs visible to it; `UUID` is the join key that holds everywhere.
    """
    families: list[MetricFamily] = []
    notes: list[MappingNote] = []
    errors: Counter[str] = Counter()
    messages: dict[str, str] = {}
    ordered = sorted(readings, key=lambda r: r.index)
    for sli in gpu_slis():
        usable = [s for s in sli.sources_of(SourceKind.NVML) if s.fidelity is not Fidelity.UNAVAILABLE]
        source = usable[0] if usable else None
        if source is None:
            notes.append(MappingNote(sli.key, "", Fidelity.UNAVAILABLE))
            continue
        field = READING_FIELDS.get(source.metric)
        prom_type = _PROM_TYPE.get(sli.instrument)
        if field is None or prom_type is None:
            notes.append(MappingNote(sli.key, source.metric, Fidelity.UNAVAILABLE))
            continue
        name = sli.prom_name
        samples: list[Sample] = []
        for reading in ordered:
            raw = field(reading)
            if raw is None:
                continue
            if math.isnan(raw) or (prom_type is MetricType.COUNTER and raw < 0):
                errors["invalid_value"] += 1
                messages.setdefault("invalid_value", f"{source.metric} on GPU {reading.index}: {raw}")
                continue
            samples.append(Sample(name, _gpu_labels(reading, extra_labels), raw * source.scale))
        if samples:
            families.append(MetricFamily(name, prom_type, sli.summary, tuple(samples)))
            notes.append(MappingNote(sli.key, source.metric, source.fidelity))
        else:
            # No GPU answered this call: say so, naming the call that was tried.
            notes.append(MappingNote(sli.key, source.metric, Fidelity.UNAVAILABLE))
    return Processed(tuple(families), tuple(notes), NVML_SCHEMA, errors, messages, None)


def _gpu_labels(reading: GpuReading, extra_labels: Labels) -> Labels:
    labels = {"gpu": str(reading.index), "UUID": reading.uuid, "modelName": reading.name}
    for key, value in extra_labels:
        labels.setdefault(key, value)  # as in the DCGM mapping: what the GPU says wins
    return make_labels(labels)


class PynvmlDevices:
    """`NvmlDevices` over nvidia-ml-py. Imports `pynvml` and calls `nvmlInit` once, on the first
    read, so a sidecar that never needs NVML (auto mode with dcgm-exporter up) never touches the
    driver. A failed import or init is remembered: neither heals without a restart of the pod (the
    driver library is mounted into a container when it starts), so it is not retried every scrape.

    Not thread-safe; the sidecar serialises collects.
    """

    def __init__(self, module: str = "pynvml") -> None:
        self._module_name = module
        self._nvml: Any = None
        self._failure: str | None = None
        self._warned: set[tuple[str, object]] = set()
        self._memory_v2 = True

    def read(self) -> list[GpuReading]:
        nvml = self._init()
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as exc:
            raise NvmlUnavailableError(f"nvmlDeviceGetCount failed: {exc}") from exc
        readings: list[GpuReading] = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                name = _text(nvml.nvmlDeviceGetName(handle))
            except nvml.NVMLError as exc:
                # One lost GPU must not hide the others; its series go stale and the log says why.
                self._warn_once(f"GPU {index}", getattr(exc, "value", None), f"NVML GPU {index} skipped: {exc}")
                continue
            readings.append(self._read_device(nvml, index, handle, uuid, name))
        return readings

    def _read_device(self, nvml: Any, index: int, handle: object, uuid: str, name: str) -> GpuReading:
        used, free = self._memory(nvml, handle, index)
        return GpuReading(
            index=index,
            uuid=uuid,
            name=name,
            utilization_gpu_percent=self._field(
                nvml, index, "nvmlDeviceGetUtilizationRates", lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu
            ),
            memory_used_bytes=used,
            memory_free_bytes=free,
            power_milliwatts=self._field(
                nvml, index, "nvmlDeviceGetPowerUsage", lambda: nvml.nvmlDeviceGetPowerUsage(handle)
            ),
            energy_millijoules=self._field(
                nvml,
                index,
                "nvmlDeviceGetTotalEnergyConsumption",
                lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle),
            ),
        )

    def close(self) -> None:
        if self._nvml is None:
            return
        nvml, self._nvml = self._nvml, None
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError as exc:  # shutting down anyway; nothing to recover
            logger.debug("nvmlShutdown failed: %s", exc)

    def _init(self) -> Any:
        if self._nvml is not None:
            return self._nvml
        if self._failure is not None:
            raise NvmlUnavailableError(self._failure)
        try:
            nvml = importlib.import_module(self._module_name)
        except ImportError as exc:
            self._failure = (
                f"NVML unavailable: Python module {self._module_name!r} is not installed "
                f"(pip install 'llmslo[nvml]', which brings nvidia-ml-py): {exc}"
            )
            raise NvmlUnavailableError(self._failure) from exc
        try:
            nvml.nvmlInit()
        except (nvml.NVMLError, OSError) as exc:
            self._failure = (
                f"NVML unavailable: nvmlInit failed: {exc} (no NVIDIA driver on this node, or "
                "libnvidia-ml.so.1 not mounted into this container)"
            )
            raise NvmlUnavailableError(self._failure) from exc
        self._nvml = nvml
        return nvml

    def _field(self, nvml: Any, index: int, call: str, read: Callable[[], float]) -> float | None:
        try:
            return float(read())  # NVML answers ints; the canonical values are floats
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) != nvml.NVML_ERROR_NOT_SUPPORTED:
                # Not "unsupported" but a real failure (no permission, GPU lost, ...): still only
                # this series is lost, but an operator has to hear about it once.
                self._warn_once(call, getattr(exc, "value", None),
                                f"NVML {call} failed on GPU {index}: {exc}; its series is left out")
            return None

    def _memory(self, nvml: Any, handle: object, index: int) -> tuple[float | None, float | None]:
        """Prefer the v2 memory query: its `used` excludes driver-reserved memory, as
        DCGM_FI_DEV_FB_USED does (used + free + reserved = total). v1's `used` includes the
        reserved part, so on drivers without v2 (before R510) `used` reads higher than DCGM's."""
        version = getattr(nvml, "nvmlMemory_v2", None)
        if version is not None and self._memory_v2:
            try:
                info = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
                return float(info.used), float(info.free)
            except nvml.NVMLError as exc:
                no_v2 = {
                    getattr(nvml, name, None)
                    for name in ("NVML_ERROR_FUNCTION_NOT_FOUND", "NVML_ERROR_NOT_SUPPORTED",
                                 "NVML_ERROR_ARGUMENT_VERSION_MISMATCH")
                } - {None}
                if getattr(exc, "value", None) not in no_v2:
                    self._warn_once("nvmlDeviceGetMemoryInfo", getattr(exc, "value", None),
                                    f"NVML nvmlDeviceGetMemoryInfo failed on GPU {index}: {exc}")
                    return None, None
                self._memory_v2 = False
                logger.info("NVML memory info v2 not supported by this driver (%s); using v1, whose "
                            "'used' includes driver-reserved memory", exc)
        try:
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) != nvml.NVML_ERROR_NOT_SUPPORTED:
                self._warn_once("nvmlDeviceGetMemoryInfo", getattr(exc, "value", None),
                                f"NVML nvmlDeviceGetMemoryInfo failed on GPU {index}: {exc}")
            return None, None
        return float(info.used), float(info.free)

    def _warn_once(self, what: str, code: object, message: str) -> None:
        """A sidecar scraped every few seconds would repeat the same NVML failure forever."""
        if (what, code) not in self._warned:
            self._warned.add((what, code))
            logger.warning("%s; further ones are not logged", message)


def _text(value: object) -> str:
    """nvidia-ml-py answers str; pynvml releases before 11.5 answered bytes."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def nvml_collector(devices: NvmlDevices, *, extra_labels: Labels = ()) -> Collect:
    def collect() -> Processed | FetchError:
        try:
            readings = devices.read()
        except NvmlUnavailableError as exc:
            return FetchError(NVML_UNAVAILABLE_KIND, str(exc))
        return nvml_to_processed(readings, extra_labels)

    return collect


def auto_collector(dcgm: Collect, nvml: Collect, *, target: str = "dcgm-exporter") -> Collect:
    """dcgm-exporter first; NVML for each scrape on which dcgm-exporter is not reachable.

    The dcgm-exporter failure stays visible while NVML answers: it is counted in
    `llmslo_exporter_scrape_errors_total`, and `llmslo_source_schema_info{source="nvml"}` says
    which source the values came from. When NVML is not available either, the dcgm-exporter
    error is returned unchanged, because that is the failure an operator has to fix.
    """
    said: set[str] = set()

    def once(key: str, message: str, *args: object) -> None:
        if key not in said:
            said.add(key)
            logger.warning(message, *args)

    def collect() -> Processed | FetchError:
        result = dcgm()
        if not isinstance(result, FetchError) or result.kind not in FALLBACK_KINDS:
            return result
        fallback = nvml()
        if isinstance(fallback, FetchError):
            once("no-nvml", "%s unreachable (%s) and NVML unavailable too (%s); serving no GPU SLIs",
                 target, result.kind, fallback.message)
            return result
        once("nvml", "%s unreachable (%s: %s); answering from NVML while it stays unreachable",
             target, result.kind, result.message)
        errors = Counter(fallback.errors)
        errors[result.kind] += 1  # counted, not put in `messages`: the line above already said it
        return dataclasses.replace(fallback, errors=errors)

    return collect


def build_collect(
    args: argparse.Namespace, *, devices: NvmlDevices | None = None
) -> tuple[Collect, Callable[[], None]]:
    """The collect function for `--source dcgm|nvml|auto`, and what to close at shutdown.

    dcgm-exporter's own `pod`/`namespace` labels name the workload pod using each GPU; adding ours
    (the sidecar's pod) would be wrong wherever dcgm-exporter has no pod mapping, so the dcgm path
    adds no labels. The NVML path runs inside the vLLM pod, whose GPUs it reads, so there the
    sidecar's own pod and namespace are the right ones. `devices` replaces the real NVML (tests).
    """
    source = getattr(args, "source", "dcgm")
    closers: list[Callable[[], None]] = []

    def close() -> None:
        for closer in closers:
            closer()

    def nvml_devices() -> NvmlDevices:
        if devices is not None:
            return devices
        real = PynvmlDevices()
        closers.append(real.close)
        return real

    if source == "nvml":
        return nvml_collector(nvml_devices(), extra_labels=pod_labels(args)), close
    if source not in ("dcgm", "auto"):
        raise ValueError(f"unknown GPU source {source!r}; expected dcgm, nvml or auto")
    upstream = Upstream(args.target, timeout=args.timeout)
    closers.append(upstream.close)
    dcgm = scrape_collector(DCGM, upstream.fetch, extra_labels=())
    if source == "dcgm":
        return dcgm, close
    nvml = nvml_collector(nvml_devices(), extra_labels=pod_labels(args))
    return auto_collector(dcgm, nvml, target=args.target), close
