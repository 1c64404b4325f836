"""Benchmark llmslo's proxy against a direct connection and nginx (`proxy_buffering off`).

A fast local SSE upstream (sse_upstream.py) streams N chunks per request; a load generator keeps
C streams in flight (each on its own keep-alive connection) against three targets, in the same
run: the upstream directly, llmslo's proxy in front of it, and nginx in front of it. Printed per
concurrency: TTFT p50/p99 (request written -> first `data:` byte read) and what each proxy adds
to the direct path, and forwarded chunks per second per core (chunks the client received / CPU
seconds the proxy process used), with the ratio to nginx.

    .venv/bin/python bench/proxy/bench_proxy.py [--concurrency 1 64 256] [--chunks 256] [--gap-ms 1]

Targets (the issue's): added p99 TTFT < 1 ms at 64 streams, >= 20,000 chunks/s on one core. Both
proxies run one process/worker, so CPU seconds are one core's. Everything shares this machine, so
the load generator and the upstream compete with the proxy: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REQUEST_BODY = json.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
END = b"\r\n0\r\n\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def children(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        for kid in kids:
            out += children(int(kid))
    return out


@dataclass
class Result:
    ttft: list[float]
    chunks: int
    seconds: float


async def _stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    writer.write(request)
    ttft = -1.0
    chunks = 0
    tail = b""
    while True:
        data = await reader.read(65536)
        if not data:
            raise RuntimeError("connection closed mid-response")
        chunks += data.count(b"data: ")
        if ttft < 0 and chunks:
            ttft = time.perf_counter() - start
        tail = (tail + data)[-16:]
        if tail.endswith(END):
            return ttft, chunks - 1  # [DONE] is not a chunk


async def load(port: int, concurrency: int, streams: int) -> Result:
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(REQUEST_BODY), REQUEST_BODY))
    ttfts: list[float] = []
    total = 0
    todo = [streams]

    async def user() -> None:
        nonlocal total
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while todo[0] > 0:
                todo[0] -= 1
                ttft, chunks = await _stream(reader, writer, request)
                ttfts.append(ttft)
                total += chunks
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return Result(ttfts, total, time.perf_counter() - start)


def nginx_conf(prefix: Path, port: int, upstream: int) -> Path:
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream sse {{ server 127.0.0.1:{upstream}; keepalive 512; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://sse;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
""")
    return conf


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_upstream(chunks: int, gap_ms: float) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "sse_upstream.py"), "--port", str(port),
                             "--chunks", str(chunks), "--gap-ms", str(gap_ms)])
    wait_port(port)
    return proc, port


def measure(runner: Any, targets: dict[str, tuple[int, list[int]]], c: int, streams: int) -> list[dict[str, Any]]:
    results: dict[str, Result] = {}
    cpu: dict[str, float] = {}
    for name, (port, pids) in targets.items():
        runner(load(port, c, min(streams, 2 * c)))  # warm-up: connections, pools, caches
        before = cpu_seconds(pids) if pids else 0.0
        results[name] = runner(load(port, c, streams))
        cpu[name] = cpu_seconds(pids) - before if pids else 0.0
    base50 = percentile(results["direct"].ttft, 0.5)
    base99 = percentile(results["direct"].ttft, 0.99)
    rows = []
    for name, r in results.items():
        rows.append({
            "concurrency": c, "target": name, "streams": len(r.ttft), "chunks": r.chunks,
            "ttft_p50_ms": 1000 * percentile(r.ttft, 0.5), "ttft_p99_ms": 1000 * percentile(r.ttft, 0.99),
            "added_p50_ms": 1000 * (percentile(r.ttft, 0.5) - base50),
            "added_p99_ms": 1000 * (percentile(r.ttft, 0.99) - base99),
            "chunks_per_s": r.chunks / r.seconds,
            "chunks_per_cpu_s": r.chunks / cpu[name] if cpu[name] > 0 else None,
        })
    nginx = next(r for r in rows if r["target"] == "nginx")
    for row in rows:
        per_core = row["chunks_per_cpu_s"]
        reference = nginx["chunks_per_cpu_s"]
        row["per_core_vs_nginx"] = per_core / reference if per_core and reference else None
    return rows


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    print(f"{'C':>4} {'target':<7} {'streams':>7} {'TTFT p50':>9} {'p99':>8} {'added p50':>10} {'p99':>8}"
          f" {'chunks/s':>9} {'chunks/s/core':>14} {'vs nginx':>9}")
    for row in rows:
        ratio = f"{row['per_core_vs_nginx']:.2f}x" if row["per_core_vs_nginx"] else ""
        print(f"{row['concurrency']:>4} {row['target']:<7} {row['streams']:>7} {row['ttft_p50_ms']:>7.2f}ms"
              f" {row['ttft_p99_ms']:>6.2f}ms {row['added_p50_ms']:>8.2f}ms {row['added_p99_ms']:>6.2f}ms"
              f" {row['chunks_per_s']:>9.0f} {row['chunks_per_cpu_s'] or 0:>14.0f} {ratio:>9}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--rate", type=float, default=16000,
                        help="chunks/s offered in total in the latency runs (each stream: rate/C, at most 1000)")
    parser.add_argument("--streams", type=int, default=100, help="streams per latency run (at least 2 per user)")
    parser.add_argument("--saturation-concurrency", type=int, default=64,
                        help="concurrency of the capacity run (unpaced upstream); 0 skips it")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run

    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    report: dict[str, Any] = {"chunks_per_stream": args.chunks, "offered_rate": args.rate, "latency": [],
                              "capacity": []}

    def start_proxies(up_port: int) -> dict[str, tuple[int, list[int]]]:
        llm_port, metrics_port, nginx_port = free_port(), free_port(), free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "exporters.proxy", "--upstream", f"http://127.0.0.1:{up_port}", "--host",
             "127.0.0.1", "--port", str(llm_port), "--metrics-host", "127.0.0.1", "--metrics-port",
             str(metrics_port), "--log-level", "WARNING"], cwd=ROOT)
        procs.append(proxy)
        prefix = tmp / f"nginx-{up_port}"
        prefix.mkdir()
        nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(nginx_conf(prefix, nginx_port, up_port)),
                                  "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        wait_port(llm_port)
        wait_port(nginx_port)
        return {"direct": (up_port, []), "llmslo": (llm_port, [proxy.pid]), "nginx": (nginx_port, children(nginx.pid))}

    def stop(keep: int = 0) -> None:
        while len(procs) > keep:
            p = procs.pop()
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    try:
        for c in args.concurrency:
            gap_ms = max(1.0, 1000 * c / args.rate)
            upstream, up_port = start_upstream(args.chunks, gap_ms)
            procs.append(upstream)
            rows = measure(runner, start_proxies(up_port), c, max(args.streams, 2 * c))
            report["latency"] += rows
            print_rows(f"latency: C={c}, {args.chunks} chunks/stream, one chunk every {gap_ms:g} ms per stream "
                       f"({c * 1000 / gap_ms:.0f} chunks/s offered)", rows)
            stop()
        if args.saturation_concurrency:
            c = args.saturation_concurrency
            upstream, up_port = start_upstream(args.chunks, 0.0)
            procs.append(upstream)
            rows = measure(runner, start_proxies(up_port), c, 4 * c)
            report["capacity"] = rows
            print_rows(f"capacity: C={c}, unpaced upstream (as fast as it writes); chunks/s/core = chunks the client "
                       "got / CPU seconds of the proxy process", rows)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
