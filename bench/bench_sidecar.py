"""Sidecar cost on the real vLLM 0.32 capture.

Prints (1) parse-and-map time per scrape, the pure work of one scrape (median and p90 of many),
and the full /metrics render; (2) the CPU the vLLM sidecar process uses when scraped every second,
for N sidecars at once (default 8), read from /proc/<pid>/stat over the measurement window.

    .venv/bin/python bench/bench_sidecar.py [--sidecars 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from exporters.pipeline import VLLM, process
from exporters.sidecar import Sidecar
from exporters.upstream import Fetched

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO.parent / "shared" / "fixtures" / "vllm-0.32-cpu" / "metrics-after-21-requests.prom"
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_pure(runs: int) -> None:
    text = CAPTURE.read_text(encoding="utf-8")
    for _ in range(50):
        process(text, VLLM)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        process(text, VLLM)
        times.append((time.perf_counter_ns() - t0) / 1000)
    print(f"capture: {CAPTURE.name} ({len(text)} bytes, {text.count(chr(10))} lines)")
    print(f"parse+map per scrape: median {statistics.median(times):.0f} us, p90 {percentile(times, 0.9):.0f} us"
          f" ({runs} runs)")
    fetched = Fetched(text, 0.0)
    sidecar = Sidecar("vllm", lambda: process(fetched.text, VLLM), target="bench", min_interval=0.0)
    renders = []
    for _ in range(runs // 4):
        t0 = time.perf_counter_ns()
        sidecar.render()
        renders.append((time.perf_counter_ns() - t0) / 1000)
    print(f"full scrape in-process (parse+map+continuity+render): median {statistics.median(renders):.0f} us,"
          f" p90 {percentile(renders, 0.9):.0f} us")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def bench_processes(sidecars: int, seconds: float) -> None:
    upstream_port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "static_metrics_server.py"), str(CAPTURE), str(upstream_port)]
        ))
        target = f"http://127.0.0.1:{upstream_port}/metrics"
        wait_http(target)
        urls = []
        for _ in range(sidecars):
            port = free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "slo.cli", "--log-level", "WARNING", "exporter", "vllm",
                 "--target", target, "--host", "127.0.0.1", "--port", str(port)],
            ))
            urls.append(f"http://127.0.0.1:{port}/metrics")
        for url in urls:
            wait_http(url)
        side_pids = [p.pid for p in procs[1:]]
        client = httpx.Client(timeout=5)
        for url in urls:  # warm up: first scrapes import lazily and fill caches
            for _ in range(3):
                client.get(url)
        start_cpu = [cpu_seconds(pid) for pid in side_pids]
        start = time.monotonic()
        ticks = 0
        while time.monotonic() - start < seconds:
            tick = time.monotonic()
            for url in urls:
                response = client.get(url)
                assert response.status_code == 200 and b"gen_ai_server_time_to_first_token" in response.content
            ticks += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        elapsed = time.monotonic() - start
        used = [cpu_seconds(pid) - c for pid, c in zip(side_pids, start_cpu, strict=True)]
        per = [100 * u / elapsed for u in used]
        print(f"{sidecars} sidecar processes scraped every 1 s for {elapsed:.0f} s ({ticks} rounds):")
        print(f"  CPU per sidecar: mean {statistics.mean(per):.2f}% of one core, max {max(per):.2f}%")
        print(f"  CPU for all {sidecars}: {sum(per):.2f}% of one core (target < 1%)")
        print(f"  CPU per scrape: {1000 * sum(used) / (ticks * sidecars):.2f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--sidecars", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    bench_pure(args.runs)
    bench_processes(args.sidecars, args.seconds)


if __name__ == "__main__":
    main()
