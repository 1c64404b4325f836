"""Start a real Prometheus (the Debian package ``scripts/setup`` installs) and query it.

Each test gets its own server on a free port with its own config, rule files and TSDB folder, so tests
never share state. The scrape and evaluation intervals default to 1 s: fast enough for an e2e test to
see rule results within seconds, and what the Prometheus binary accepts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.real_vllm import free_port, stop_process_group

PROMETHEUS_BIN = "prometheus"
READY_TIMEOUT_S = 30.0


class PrometheusUnavailableError(RuntimeError):
    """The prometheus binary is missing or the server did not become ready."""


class PrometheusQueryError(RuntimeError):
    """The HTTP API answered with status "error" (a bad expression, a timeout)."""


@dataclass
class PrometheusServer:
    url: str
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusQueryError(f"{path} {dict(params or {})}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the result vector (``[{"metric": {...}, "value": [t, "v"]}, ...]``)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        data = self._get("/api/v1/query", params)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        assert isinstance(result, list)
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": repr(start), "end": repr(end), "step": repr(step)}
        )
        result = data["result"]
        assert isinstance(result, list)
        return result

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant query as {sorted label pairs: float value}."""
        return {
            tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in self.query(expr)
        }

    def rule_groups(self) -> list[dict[str, Any]]:
        groups = self._get("/api/v1/rules")["groups"]
        assert isinstance(groups, list)
        return groups

    def targets(self) -> list[dict[str, Any]]:
        active = self._get("/api/v1/targets")["activeTargets"]
        assert isinstance(active, list)
        return active

    def wait_for(self, expr: str, timeout: float = 30.0, min_series: int = 1) -> list[dict[str, Any]]:
        """Poll an instant query until it returns at least ``min_series`` series."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if len(result) >= min_series:
                return result
            time.sleep(0.25)
        raise AssertionError(f"{expr!r}: {len(result)} series after {timeout} s (wanted {min_series})\n"
                             f"{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def scrape_config(job: str, targets: Sequence[str], *, metrics_path: str = "/metrics",
                  labels: Mapping[str, str] | None = None, interval: str = "1s") -> dict[str, Any]:
    """One static scrape job; ``targets`` are host:port strings."""
    static: dict[str, Any] = {"targets": list(targets)}
    if labels:
        static["labels"] = dict(labels)
    return {"job_name": job, "metrics_path": metrics_path, "scrape_interval": interval,
            "scrape_timeout": interval, "static_configs": [static]}


@contextlib.contextmanager
def start_prometheus(
    workdir: Path,
    *,
    scrape_configs: Sequence[Mapping[str, Any]] = (),
    rule_files: Sequence[Path] = (),
    evaluation_interval: str = "1s",
    extra_config: Mapping[str, Any] | None = None,
) -> Iterator[PrometheusServer]:
    """Run ``prometheus`` until the block ends. Rule files are copied into ``workdir`` untouched."""
    binary = shutil.which(PROMETHEUS_BIN)
    if binary is None:
        raise PrometheusUnavailableError("no prometheus binary on PATH (scripts/setup installs the Debian package)")
    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": evaluation_interval},
        "scrape_configs": [dict(c) for c in scrape_configs],
    }
    if rule_files:
        config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    config.update(extra_config or {})
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
             "--storage.tsdb.retention.time=1d", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", config_path, log_path, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process_group(process, grace_s=10.0)


def _wait_ready(server: PrometheusServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PrometheusUnavailableError(f"prometheus exited with {server.process.returncode}:\n"
                                             f"{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise PrometheusUnavailableError(f"prometheus not ready after {READY_TIMEOUT_S} s:\n{server.log_tail()}")
