"""Sidecar cost on the real vLLM 0.32 capture.

Prints (1) the pure work of one scrape, median and p90 of many: parse-and-map by the ordinary
path, the compiled plan's whole scrape (parse, map, continuity, write), and the full in-process
/metrics render; (2) the CPU the vLLM sidecar processes use when each is scraped every second,
N sidecars at once (default 8), from /proc/<pid>/schedstat (ns of CPU time; only the sidecar
processes are counted, not the upstream or this scraper).

Every figure is given twice, for bodies whose values change on every scrape (the capture with
every counter and histogram child advanced consistently, gauges varied: a busy engine; see
bench/static_metrics_server.py) and for byte-identical bodies (an idle engine). `--rotate` adds
the three real 0.32 captures in turn (series sets change, counters go down: the slow path).

    .venv/bin/python bench/bench_sidecar.py [--sidecars 8] [--seconds 60] [--rotate]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from exporters.pipeline import VLLM, compiled_scraper, process
from exporters.sidecar import Sidecar, scrape_collector
from exporters.upstream import Fetched
from slo.mapping import Continuity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from static_metrics_server import ChangingBody

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "vllm-0.32-cpu"
CAPTURE = FIXTURES / "metrics-after-21-requests.prom"
ROTATION = [FIXTURES / "metrics-idle-after-1-request.prom", CAPTURE, FIXTURES / "metrics-after-load.prom"]
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(run: Callable[[int], object], runs: int) -> list[float]:
    """CPU microseconds of this thread per call of run(i), i = 0..runs-1, after a warm-up. CPU
    time, not wall time: on a shared machine a wall-clock p90 measures the scheduler."""
    for i in range(min(50, runs)):
        run(i)
    times = []
    for i in range(runs):
        t0 = time.thread_time_ns()
        run(i)
        times.append((time.thread_time_ns() - t0) / 1000)
    return times


def show(label: str, times: list[float]) -> None:
    print(f"  {label:<62} median {statistics.median(times):6.0f} us, p90 {percentile(times, 0.9):6.0f} us")


def pure_case(pick: Callable[[int], str], runs: int) -> None:
    show("parse+map, ordinary path (parse_exposition + map_to_canonical)",
         timed(lambda i: process(pick(i), VLLM), runs))
    scraper = compiled_scraper(VLLM)
    continuity = Continuity()
    first = process(pick(0), VLLM)
    applied = continuity.apply(first.families, first.epoch)
    scraper.learn(pick(0), first.families, first.notes, first.schema, not first.errors, applied, continuity)
    show("parse+map+continuity+write, compiled plan", timed(lambda i: scraper.scrape(pick(i + 1), continuity), runs))
    current = [0]
    collect = scrape_collector(VLLM, lambda: Fetched(pick(current[0]), 0.0))
    sidecar = Sidecar("vllm", collect, target="bench", min_interval=0.0)

    def render(i: int) -> None:
        current[0] = i
        sidecar.render()

    show("full scrape in-process (Sidecar.render, no HTTP)", timed(render, runs))


def bench_pure(runs: int) -> None:
    text = CAPTURE.read_text(encoding="utf-8")
    changing = ChangingBody(text)
    bodies = [changing.body(n).decode("utf-8") for n in range(1, runs + 52)]
    print(f"capture: {CAPTURE.name} ({len(text)} bytes, {text.count(chr(10))} lines); {runs} runs each,"
          " CPU time of the scraping thread")
    print("changing values (every counter and histogram child advanced on every scrape):")
    pure_case(lambda i: bodies[i], runs)
    print("identical body:")
    pure_case(lambda i: text, runs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of a whole process, all threads, dead ones included (utime + stime of
    /proc/<pid>/stat, in clock ticks: 10 ms, so long windows and many scrapes are needed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu_seconds(pid: int) -> float:
    """Sum of the live threads' CPU time in ns (schedstat): precise, but blind to threads that
    ended; a cross-check of `cpu_seconds` (a sidecar's threads live as long as its keep-alive
    connection)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def wait_http(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def bench_processes(sidecars: int, seconds: float, mode: str) -> None:
    upstream_port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    files = [str(CAPTURE)] if mode != "rotate" else [str(ROTATION[0]), str(upstream_port), *map(str, ROTATION[1:])]
    command = [sys.executable, str(REPO / "bench" / "static_metrics_server.py")]
    command += [files[0], str(upstream_port), *files[2:], "--mode", mode]
    try:
        procs.append(subprocess.Popen(command))
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
        load = os.getloadavg()[0]
        start_cpu = [cpu_seconds(pid) for pid in side_pids]
        start_threads = [thread_cpu_seconds(pid) for pid in side_pids]
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
        threads = sum(thread_cpu_seconds(pid) - c for pid, c in zip(side_pids, start_threads, strict=True))
        per = [100 * u / elapsed for u in used]
        per_scrape = sorted(1000 * u / ticks for u in used)
        print(f"{sidecars} sidecar processes, upstream body {mode}, each scraped every 1 s for {elapsed:.0f} s"
              f" ({ticks} rounds; load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
        print(f"  CPU per scrape: {1000 * sum(used) / (ticks * sidecars):.2f} ms"
              f" (per sidecar: min {per_scrape[0]:.2f}, median {statistics.median(per_scrape):.2f},"
              f" max {per_scrape[-1]:.2f} ms; from thread schedstat: {1000 * threads / (ticks * sidecars):.3f} ms)")
        print(f"  CPU per sidecar: mean {statistics.mean(per):.3f}% of one core, max {max(per):.3f}%")
        verdict = "met" if sum(per) < 1.0 else "NOT met"
        print(f"  CPU for all {sidecars}: {sum(per):.2f}% of one core (target < 1%: {verdict})")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:  # a loaded machine; do not leave it running
                p.kill()
                p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--sidecars", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rotate", action="store_true", help="also rotate the three real captures")
    parser.add_argument("--no-pure", action="store_true", help="skip the in-process timings")
    args = parser.parse_args()
    if not args.no_pure:
        bench_pure(args.runs)
    for mode in ("changing", "identical", *(("rotate",) if args.rotate else ())):
        bench_processes(args.sidecars, args.seconds, mode)


if __name__ == "__main__":
    main()
