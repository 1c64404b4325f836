"""The NVML path of the GPU sidecar and the dcgm-exporter -> NVML fallback, without a GPU.

NVML values come from tests/data/nvml-recorded.json, which is synthetic (see its `_comment`);
the pynvml module is replaced by a fake built from the same file, so `PynvmlDevices` runs its real
code against NVML's call shapes and error codes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.captures import DCGM as DCGM_FIXTURE
from support.captures import read

from exporters.dcgm import (
    READING_FIELDS,
    GpuReading,
    NvmlUnavailableError,
    PynvmlDevices,
    auto_collector,
    build_collect,
    gpu_slis,
    nvml_collector,
    nvml_to_processed,
)
from exporters.pipeline import DCGM, Processed
from exporters.sidecar import Sidecar, scrape_collector
from exporters.upstream import Fetched, FetchError
from slo.catalog import Fidelity, SourceKind
from slo.mapping import MappingNote, Schema
from slo.metrics.model import MetricFamily, MetricType, make_labels

RECORDED = Path(__file__).resolve().parents[1] / "data" / "nvml-recorded.json"
UUID0 = "GPU-00000000-0000-4000-8000-000000000000"
UUID1 = "GPU-00000000-0000-4000-8000-000000000001"
NAME = "Synthetic GPU (not real hardware)"
POD = (("namespace", "llm"), ("pod", "vllm-0"))


def recorded_devices() -> list[dict[str, Any]]:
    data = json.loads(RECORDED.read_text(encoding="utf-8"))
    devices: list[dict[str, Any]] = data["devices"]
    return devices


def recorded() -> list[GpuReading]:
    return [GpuReading(**d) for d in recorded_devices()]


class RecordedDevices:
    """An `NvmlDevices` answering the recorded readings, counting how often it was asked."""

    def __init__(self, readings: list[GpuReading] | None = None, *, unavailable: bool = False) -> None:
        self.readings = recorded() if readings is None else readings
        self.unavailable = unavailable
        self.reads = 0

    def read(self) -> list[GpuReading]:
        self.reads += 1
        if self.unavailable:
            raise NvmlUnavailableError("NVML unavailable: nvmlInit failed: Driver Not Loaded")
        return self.readings


def by_name(processed: Processed) -> dict[str, MetricFamily]:
    return {f.name: f for f in processed.families}


def value(family: MetricFamily, gpu: str) -> float:
    (sample,) = [s for s in family.samples if s.label("gpu") == gpu]
    return sample.value


def nvml_scale(metric: str) -> float:
    """The catalog's scale for an NVML call, to check the literal expectations agree with it."""
    (source,) = [s for sli in gpu_slis() for s in sli.sources_of(SourceKind.NVML) if s.metric == metric]
    return source.scale


# --- the recorded file -------------------------------------------------------------------------


def test_recorded_file_says_it_is_synthetic() -> None:
    data = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert data["_comment"].startswith("Synthetic values in NVML's units")
    assert "not a capture from real hardware" in data["_comment"]
    assert all("not real hardware" in d["name"] for d in data["devices"])


# --- nvml_to_processed ---------------------------------------------------------------------------


def test_values_are_scaled_to_canonical_units_exactly() -> None:
    families = by_name(nvml_to_processed(recorded(), POD))
    # % -> fraction, bytes stay bytes, mW -> W, mJ -> J; exact float equality on purpose.
    assert value(families["llmslo_gpu_utilization_ratio"], "0") == 0.37
    assert value(families["llmslo_gpu_utilization_ratio"], "1") == 0.0
    assert value(families["llmslo_gpu_memory_used_bytes"], "0") == 21474836480.0
    assert value(families["llmslo_gpu_memory_used_bytes"], "1") == 1048576.0
    assert value(families["llmslo_gpu_memory_free_bytes"], "0") == 2147483648.0
    assert value(families["llmslo_gpu_memory_free_bytes"], "1") == 23621320704.0
    assert value(families["llmslo_gpu_power_watts"], "0") == 71.234
    assert value(families["llmslo_gpu_energy_joules_total"], "0") == 987654.321
    # The literals above are the catalog's scales applied, not a second opinion that could drift.
    assert 37 * nvml_scale("nvmlDeviceGetUtilizationRates().gpu") == 0.37
    assert 71234 * nvml_scale("nvmlDeviceGetPowerUsage()") == 71.234
    assert 987654321 * nvml_scale("nvmlDeviceGetTotalEnergyConsumption()") == 987654.321


def test_unsupported_fields_are_skipped_not_zeroed() -> None:
    families = by_name(nvml_to_processed(recorded(), POD))
    # GPU 1 has no power or energy reading: no series at all, never a 0 that looks like a value.
    assert [s.label("gpu") for s in families["llmslo_gpu_power_watts"].samples] == ["0"]
    assert [s.label("gpu") for s in families["llmslo_gpu_energy_joules_total"].samples] == ["0"]
    assert [s.label("gpu") for s in families["llmslo_gpu_utilization_ratio"].samples] == ["0", "1"]


def test_families_follow_the_catalog() -> None:
    processed = nvml_to_processed(recorded(), POD)
    slis = {s.prom_name: s for s in gpu_slis()}
    assert [f.name for f in processed.families] == [
        "llmslo_gpu_utilization_ratio",
        "llmslo_gpu_memory_used_bytes",
        "llmslo_gpu_memory_free_bytes",
        "llmslo_gpu_power_watts",
        "llmslo_gpu_energy_joules_total",
    ]
    for family in processed.families:
        assert family.help == slis[family.name].summary
        assert all(s.name == family.name for s in family.samples)
    types_ = {f.name: f.type for f in processed.families}
    assert types_["llmslo_gpu_energy_joules_total"] is MetricType.COUNTER
    assert types_["llmslo_gpu_power_watts"] is MetricType.GAUGE


def test_labels_are_dcgm_style_plus_the_pod() -> None:
    families = by_name(nvml_to_processed(recorded(), POD))
    (sample,) = [s for s in families["llmslo_gpu_memory_used_bytes"].samples if s.label("gpu") == "1"]
    assert sample.labels == make_labels(
        {"gpu": "1", "UUID": UUID1, "modelName": NAME, "namespace": "llm", "pod": "vllm-0"}
    )


def test_extra_labels_never_override_what_the_gpu_says() -> None:
    families = by_name(nvml_to_processed(recorded(), (("gpu", "99"), ("pod", "p"))))
    assert [s.label("gpu") for s in families["llmslo_gpu_utilization_ratio"].samples] == ["0", "1"]
    assert families["llmslo_gpu_utilization_ratio"].samples[0].label("pod") == "p"


def test_no_extra_labels_means_gpu_labels_only() -> None:
    families = by_name(nvml_to_processed(recorded()))
    labels = dict(families["llmslo_gpu_power_watts"].samples[0].labels)
    assert labels == {"UUID": UUID0, "gpu": "0", "modelName": NAME}


def test_notes_schema_and_errors() -> None:
    processed = nvml_to_processed(recorded(), POD)
    assert processed.schema == Schema("nvml", "nvml")
    assert processed.errors == {}
    assert processed.messages == {}
    assert processed.epoch is None
    notes = {n.sli: n for n in processed.notes}
    assert set(notes) == {s.key for s in gpu_slis()}
    for sli in gpu_slis():
        nvml_sources = sli.sources_of(SourceKind.NVML)
        if nvml_sources:
            assert notes[sli.key] == MappingNote(sli.key, nvml_sources[0].metric, Fidelity.EXACT)
        else:
            assert notes[sli.key] == MappingNote(sli.key, "", Fidelity.UNAVAILABLE)
    # The DCP fields and reserved memory have no NVML source: said, not silently missing.
    for key in ("gpu_sm_active", "gpu_tensor_active", "gpu_dram_active", "gpu_memory_reserved"):
        assert notes[key].fidelity is Fidelity.UNAVAILABLE


def test_a_call_no_gpu_supports_is_noted_unavailable() -> None:
    readings = [
        GpuReading(0, UUID0, NAME, 10.0, 1.0, 2.0, None, None),
        GpuReading(1, UUID1, NAME, 20.0, 1.0, 2.0, None, None),
    ]
    processed = nvml_to_processed(readings)
    assert "llmslo_gpu_power_watts" not in by_name(processed)
    notes = {n.sli: n for n in processed.notes}
    assert notes["gpu_power"] == MappingNote("gpu_power", "nvmlDeviceGetPowerUsage()", Fidelity.UNAVAILABLE)
    assert notes["gpu_utilization"].fidelity is Fidelity.EXACT


def test_no_gpus_gives_no_families() -> None:
    processed = nvml_to_processed([])
    assert processed.families == ()
    assert all(n.fidelity is Fidelity.UNAVAILABLE for n in processed.notes)


def test_invalid_values_are_counted_and_skipped() -> None:
    readings = [GpuReading(0, UUID0, NAME, math.nan, 1.0, 2.0, 5000.0, -1.0)]
    processed = nvml_to_processed(readings)
    families = by_name(processed)
    assert "llmslo_gpu_utilization_ratio" not in families
    assert "llmslo_gpu_energy_joules_total" not in families
    assert value(families["llmslo_gpu_power_watts"], "0") == 5.0
    assert processed.errors == {"invalid_value": 2}


def test_every_catalog_nvml_source_has_a_reading_field() -> None:
    """A new NVML source in the catalog must come with a field in GpuReading and PynvmlDevices."""
    metrics = {s.metric for sli in gpu_slis() for s in sli.sources_of(SourceKind.NVML)}
    assert metrics
    assert metrics <= set(READING_FIELDS)


def test_unsorted_readings_come_out_in_gpu_order() -> None:
    families = by_name(nvml_to_processed(list(reversed(recorded()))))
    assert [s.label("gpu") for s in families["llmslo_gpu_memory_free_bytes"].samples] == ["0", "1"]


def test_nvml_sidecar_renders_parseable_exposition() -> None:
    sidecar = Sidecar("dcgm", nvml_collector(RecordedDevices(), extra_labels=POD), target="nvml", min_interval=0)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(sidecar.render())
        for s in fam.samples
    }
    labels0 = tuple(sorted({"gpu": "0", "UUID": UUID0, "modelName": NAME, "namespace": "llm", "pod": "vllm-0"}.items()))
    assert samples[("llmslo_gpu_power_watts", labels0)] == 71.234
    assert samples[("llmslo_gpu_energy_joules_total", labels0)] == 987654.321
    up = [v for (n, _), v in samples.items() if n == "llmslo_exporter_target_up"]
    assert up == [1.0]
    schema = [dict(lbl) for (n, lbl) in samples if n == "llmslo_source_schema_info"]
    assert schema[0]["source"] == "nvml"


# --- the auto fallback ---------------------------------------------------------------------------


class FakeFetch:
    def __init__(self, result: Fetched | FetchError) -> None:
        self.result = result
        self.calls = 0

    def __call__(self) -> Fetched | FetchError:
        self.calls += 1
        return self.result


@pytest.mark.parametrize("kind", ["connect", "timeout"])
def test_unreachable_dcgm_exporter_falls_back_to_nvml(kind: str) -> None:
    devices = RecordedDevices()
    collect = auto_collector(
        scrape_collector(DCGM, FakeFetch(FetchError(kind, "nobody home"))), nvml_collector(devices, extra_labels=POD)
    )
    result = collect()
    assert isinstance(result, Processed)
    assert devices.reads == 1
    assert result.schema == Schema("nvml", "nvml")
    assert value(by_name(result)["llmslo_gpu_power_watts"], "0") == 71.234
    # The dcgm-exporter failure stays visible in the error counter while NVML answers.
    assert result.errors == {kind: 1}


@pytest.mark.parametrize("kind", ["http_status", "protocol", "too_large", "decode"])
def test_a_broken_dcgm_exporter_does_not_fall_back(kind: str) -> None:
    """It is there but broken: hiding that behind NVML values would hide the breakage."""
    devices = RecordedDevices()
    error = FetchError(kind, "dcgm-exporter answered HTTP 500")
    collect = auto_collector(scrape_collector(DCGM, FakeFetch(error)), nvml_collector(devices))
    assert collect() == error
    assert devices.reads == 0


def test_dcgm_exporter_up_means_nvml_is_not_touched() -> None:
    devices = RecordedDevices()
    fetch = FakeFetch(Fetched(read(DCGM_FIXTURE), 0.01))
    result = auto_collector(scrape_collector(DCGM, fetch), nvml_collector(devices))()
    assert isinstance(result, Processed)
    assert result.schema.source == "dcgm"
    assert devices.reads == 0
    assert value(by_name(result)["llmslo_gpu_power_watts"], "0") == 40.979


def test_unreachable_dcgm_exporter_without_nvml_returns_the_dcgm_error() -> None:
    error = FetchError("connect", "http://127.0.0.1:9400/metrics: connection refused")
    devices = RecordedDevices(unavailable=True)
    collect = auto_collector(scrape_collector(DCGM, FakeFetch(error)), nvml_collector(devices))
    assert collect() == error
    assert devices.reads == 1


def test_fallback_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    collect = auto_collector(
        scrape_collector(DCGM, FakeFetch(FetchError("connect", "refused"))),
        nvml_collector(RecordedDevices()),
        target="http://dcgm:9400/metrics",
    )
    with caplog.at_level(logging.WARNING, logger="llmslo.exporter"):
        for _ in range(3):
            assert isinstance(collect(), Processed)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "http://dcgm:9400/metrics" in said[0] and "refused" in said[0] and "NVML" in said[0]


def test_fallback_follows_dcgm_exporter_scrape_by_scrape() -> None:
    fetch = FakeFetch(FetchError("timeout", "slow"))
    collect = auto_collector(scrape_collector(DCGM, fetch), nvml_collector(RecordedDevices()))
    first = collect()
    assert isinstance(first, Processed) and first.schema.source == "nvml"
    fetch.result = Fetched(read(DCGM_FIXTURE), 0.01)
    second = collect()
    assert isinstance(second, Processed) and second.schema.source == "dcgm"


# --- build_collect -------------------------------------------------------------------------------


def closed_port_url() -> str:
    """A local URL nothing listens on, so the connection is really refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/metrics"


def args_for(source: str, target: str) -> argparse.Namespace:
    return argparse.Namespace(source=source, target=target, timeout=1.0, pod="vllm-0", namespace="llm")


def test_build_collect_auto_answers_from_nvml_on_a_refused_connection() -> None:
    devices = RecordedDevices()
    collect, close = build_collect(args_for("auto", closed_port_url()), devices=devices)
    try:
        result = collect()
    finally:
        close()
    assert isinstance(result, Processed)
    assert result.errors == {"connect": 1}
    assert by_name(result)["llmslo_gpu_power_watts"].samples[0].labels == make_labels(
        {"gpu": "0", "UUID": UUID0, "modelName": NAME, "namespace": "llm", "pod": "vllm-0"}
    )


def test_build_collect_dcgm_never_reads_nvml() -> None:
    devices = RecordedDevices()
    collect, close = build_collect(args_for("dcgm", closed_port_url()), devices=devices)
    try:
        result = collect()
    finally:
        close()
    assert isinstance(result, FetchError) and result.kind == "connect"
    assert devices.reads == 0


def test_build_collect_nvml_adds_the_pod_labels() -> None:
    collect, close = build_collect(args_for("nvml", "unused"), devices=RecordedDevices())
    result = collect()
    close()
    assert isinstance(result, Processed)
    assert all(
        s.label("pod") == "vllm-0" and s.label("namespace") == "llm" for f in result.families for s in f.samples
    )


def test_build_collect_nvml_without_nvml_is_a_connect_error() -> None:
    collect, close = build_collect(args_for("nvml", "unused"), devices=RecordedDevices(unavailable=True))
    result = collect()
    close()
    assert isinstance(result, FetchError)
    assert result.kind == "connect"
    assert "Driver Not Loaded" in result.message


def test_build_collect_rejects_an_unknown_source() -> None:
    with pytest.raises(ValueError, match="unknown GPU source 'rocm'"):
        build_collect(args_for("rocm", "unused"))


# --- PynvmlDevices against a fake pynvml module ---------------------------------------------------

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
}


class FakeNVMLError(Exception):
    """Like pynvml.NVMLError: the NVML return code in `.value`, its text as str()."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _STRINGS.get(self.value, f"NVML Error with code {self.value}")


class FakeNvml:
    """State behind a fake `pynvml` module: answers from the recorded file in NVML's shapes (a
    struct with `.gpu`, a struct with `.used`/`.free`, ints), NOT_SUPPORTED where the file has null."""

    def __init__(self) -> None:
        self.devices = recorded_devices()
        self.init_error: BaseException | None = None
        self.count_error: int | None = None
        self.errors: dict[tuple[int, str], int] = {}  # (index, call) -> NVML error code
        self.calls: list[str] = []
        self.memory_versions: list[object] = []
        self.bytes_strings = False

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("pynvml")
        mod.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
        mod.NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED  # type: ignore[attr-defined]
        mod.NVML_ERROR_FUNCTION_NOT_FOUND = NVML_ERROR_FUNCTION_NOT_FOUND  # type: ignore[attr-defined]
        mod.nvmlMemory_v2 = 0x02000028  # type: ignore[attr-defined]
        for name in (
            "nvmlInit",
            "nvmlShutdown",
            "nvmlDeviceGetCount",
            "nvmlDeviceGetHandleByIndex",
            "nvmlDeviceGetUUID",
            "nvmlDeviceGetName",
            "nvmlDeviceGetUtilizationRates",
            "nvmlDeviceGetMemoryInfo",
            "nvmlDeviceGetPowerUsage",
            "nvmlDeviceGetTotalEnergyConsumption",
        ):
            setattr(mod, name, getattr(self, name))
        return mod

    def _check(self, index: int, call: str) -> None:
        self.calls.append(call)
        code = self.errors.get((index, call))
        if code is not None:
            raise FakeNVMLError(code)

    def _field(self, index: int, call: str, key: str) -> int:
        self._check(index, call)
        raw = self.devices[index][key]
        if raw is None:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(raw)

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")

    def nvmlDeviceGetCount(self) -> int:
        self.calls.append("nvmlDeviceGetCount")
        if self.count_error is not None:
            raise FakeNVMLError(self.count_error)
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._check(index, "nvmlDeviceGetHandleByIndex")
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str | bytes:
        self._check(handle, "nvmlDeviceGetUUID")
        uuid: str = self.devices[handle]["uuid"]
        return uuid.encode() if self.bytes_strings else uuid

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        self._check(handle, "nvmlDeviceGetName")
        name: str = self.devices[handle]["name"]
        return name.encode() if self.bytes_strings else name

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(
            gpu=self._field(handle, "nvmlDeviceGetUtilizationRates", "utilization_gpu_percent"), memory=0
        )

    def nvmlDeviceGetMemoryInfo(self, handle: int, version: object = None) -> types.SimpleNamespace:
        self.memory_versions.append(version)
        call = "nvmlDeviceGetMemoryInfo_v2" if version else "nvmlDeviceGetMemoryInfo"
        used = self._field(handle, call, "memory_used_bytes")
        free = self._field(handle, call, "memory_free_bytes")
        return types.SimpleNamespace(used=used, free=free, total=used + free)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self._field(handle, "nvmlDeviceGetPowerUsage", "power_milliwatts")

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        return self._field(handle, "nvmlDeviceGetTotalEnergyConsumption", "energy_millijoules")


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake.module())
    return fake


def test_pynvml_missing_is_a_clear_unavailable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    devices = PynvmlDevices()
    with pytest.raises(NvmlUnavailableError, match=r"'pynvml' is not installed \(pip install 'llmslo\[nvml\]'"):
        devices.read()
    result = nvml_collector(devices)()
    assert isinstance(result, FetchError)
    assert result.kind == "connect"
    assert "not installed" in result.message
    devices.close()  # nothing was initialised: closing is a no-op, not an error


def test_nvml_init_failure_is_a_clear_unavailable_error_and_not_retried(fake_nvml: FakeNvml) -> None:
    fake_nvml.init_error = FakeNVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
    devices = PynvmlDevices()
    with pytest.raises(NvmlUnavailableError, match="nvmlInit failed: NVML Shared Library Not Found"):
        devices.read()
    with pytest.raises(NvmlUnavailableError, match="no NVIDIA driver"):
        devices.read()
    assert fake_nvml.calls.count("nvmlInit") == 1
    devices.close()
    assert "nvmlShutdown" not in fake_nvml.calls


def test_nvml_init_os_error_is_unavailable_too(fake_nvml: FakeNvml) -> None:
    fake_nvml.init_error = OSError("libnvidia-ml.so.1: cannot open shared object file")
    result = nvml_collector(PynvmlDevices())()
    assert isinstance(result, FetchError)
    assert "libnvidia-ml.so.1" in result.message


def test_pynvml_devices_read_the_recorded_values(fake_nvml: FakeNvml) -> None:
    devices = PynvmlDevices()
    assert devices.read() == recorded()
    assert devices.read() == recorded()
    assert fake_nvml.calls.count("nvmlInit") == 1
    devices.close()
    devices.close()
    assert fake_nvml.calls.count("nvmlShutdown") == 1


def test_pynvml_devices_prefer_memory_info_v2(fake_nvml: FakeNvml) -> None:
    PynvmlDevices().read()
    assert fake_nvml.memory_versions == [0x02000028, 0x02000028]


def test_pynvml_devices_fall_back_to_memory_info_v1_once(fake_nvml: FakeNvml) -> None:
    fake_nvml.errors[(0, "nvmlDeviceGetMemoryInfo_v2")] = NVML_ERROR_FUNCTION_NOT_FOUND
    devices = PynvmlDevices()
    readings = devices.read()
    assert readings[0].memory_used_bytes == 21474836480.0
    assert fake_nvml.memory_versions == [0x02000028, None, None]
    devices.read()
    assert fake_nvml.memory_versions[3:] == [None, None]


def test_pynvml_devices_decode_bytes_from_old_pynvml(fake_nvml: FakeNvml) -> None:
    fake_nvml.bytes_strings = True
    assert PynvmlDevices().read() == recorded()


def test_other_field_errors_lose_only_that_series_and_are_logged_once(
    fake_nvml: FakeNvml, caplog: pytest.LogCaptureFixture
) -> None:
    fake_nvml.errors[(0, "nvmlDeviceGetPowerUsage")] = NVML_ERROR_NO_PERMISSION
    devices = PynvmlDevices()
    with caplog.at_level(logging.WARNING, logger="llmslo.exporter"):
        first = devices.read()
        devices.read()
    assert first[0].power_milliwatts is None
    assert first[0].energy_millijoules == 987654321.0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "nvmlDeviceGetPowerUsage" in said[0] and "Insufficient Permissions" in said[0]


def test_not_supported_is_silent(fake_nvml: FakeNvml, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="llmslo.exporter"):
        readings = PynvmlDevices().read()
    assert readings[1].power_milliwatts is None
    assert caplog.records == []


def test_a_lost_gpu_is_skipped_and_the_others_still_read(fake_nvml: FakeNvml) -> None:
    fake_nvml.errors[(1, "nvmlDeviceGetHandleByIndex")] = NVML_ERROR_GPU_IS_LOST
    readings = PynvmlDevices().read()
    assert [r.index for r in readings] == [0]


def test_device_count_failure_is_unavailable(fake_nvml: FakeNvml) -> None:
    fake_nvml.count_error = NVML_ERROR_UNINITIALIZED
    result = nvml_collector(PynvmlDevices())()
    assert isinstance(result, FetchError)
    assert result.kind == "connect"
    assert "nvmlDeviceGetCount failed: Uninitialized" in result.message


def test_real_pynvml_without_a_driver_fails_cleanly() -> None:
    """With nvidia-ml-py installed (extra `nvml`): on a machine without an NVIDIA driver the real
    library must turn into a clear error, and on one with a driver into well-formed readings."""
    # scripts/setup installs the `nvml` extra, so this is a hard requirement, not a skip.
    import pynvml  # noqa: F401

    devices = PynvmlDevices()
    try:
        readings = devices.read()
    except NvmlUnavailableError as exc:
        assert "nvmlInit failed" in str(exc)
        return
    finally:
        devices.close()
    assert all(r.uuid.startswith(("GPU-", "MIG-")) for r in readings)

