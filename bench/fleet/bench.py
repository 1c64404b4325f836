"""How llmslo's cost grows with the number of vLLM pods, measured on the simulated fleet.

Three parts, each at every pod count:
1. sidecar: CPU per scrape of `exporters.sidecar.Sidecar.render()` (parse, map, continuity, write:
   exactly what the vLLM sidecar does per scrape) over every simulated pod's body, in-process;
   and the simulator's own render cost, for scale;
2. prometheus: a real Prometheus scraping every pod's sidecar output from one fleet server
   process, evaluating SLO rules; its CPU, head series, scrape and rule-group durations;
3. spans: `llm_request` generation and OTLP encoding rate, and ingest into llmslo's collector
   (`collector.traces.TraceIngest`) when that is importable.

CPU is read as thread/process CPU time, not wall time, so other load on the machine inflates it
less than it inflates latency; it still is a shared machine, so treat figures as +-20 %.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.fleet.fleet import Fleet
from bench.fleet.prom import cpu_seconds, prometheus, rss_bytes, stop
from bench.fleet.rules import rules_yaml
from bench.fleet.spans import export_request
from bench.fleet.workload import FleetSpec
from exporters.pipeline import VLLM, Processed, process
from exporters.sidecar import Sidecar

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    pods: int
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. sidecar ------------------------------------------------------------------------------
def bench_sidecar(fleet: Fleet, result: Result, rounds: int, interval: float) -> None:
    bodies = [""] * len(fleet.pods)

    def collector(i: int) -> Callable[[], Processed]:
        return lambda: process(bodies[i], VLLM)

    sidecars = [Sidecar("vllm", collector(i), target=f"pod/{i}", min_interval=0.0) for i in range(len(fleet.pods))]
    t = fleet.spec.start
    sim_cpu: list[float] = []
    scrape_cpu: list[float] = []
    out_bytes = 0
    requests = 0
    for r in range(rounds + 1):  # round 0 warms caches and the continuity state: not measured
        t += interval
        for i in range(len(fleet.pods)):
            c0 = time.thread_time()
            requests += len(fleet.advance(i, t))
            bodies[i] = fleet.metrics(i)
            c1 = time.thread_time()
            text = sidecars[i].render()
            c2 = time.thread_time()
            if r:
                sim_cpu.append(c1 - c0)
                scrape_cpu.append(c2 - c1)
                out_bytes += len(text)
    n = len(scrape_cpu)
    f = result.figures
    f["vllm body KiB (per pod)"] = statistics.mean(len(b) for b in bodies) / 1024
    f["sidecar out KiB (per pod)"] = out_bytes / n / 1024
    f["sidecar CPU ms/scrape, median"] = statistics.median(scrape_cpu) * 1e3
    f["sidecar CPU ms/scrape, p90"] = _pct(scrape_cpu, 0.9) * 1e3
    f["sidecar CPU s per fleet-wide scrape round"] = sum(scrape_cpu) / rounds
    f[f"sidecar cores at {interval:g}s scrape"] = sum(scrape_cpu) / rounds / interval
    f["simulator CPU ms/pod/round (advance+render)"] = statistics.mean(sim_cpu) * 1e3
    f["simulated requests/s (fleet)"] = requests / active_seconds(fleet, t) * len(fleet.pods)


def active_seconds(fleet: Fleet, t: float) -> float:
    """Pod-seconds the fleet has been taking requests by simulated time t."""
    return sum(max(0.0, t - pod.first_arrival_after) for pod in fleet.pods)


# -- 3. spans --------------------------------------------------------------------------------
def _collector_ingest() -> tuple[Callable[[Any], Any] | None, str]:
    """The collector's span ingest, if the collector package offers one yet (it is being built
    alongside): `collector.traces.TraceIngest(collector.store.Store()).ingest(request)`."""
    try:
        traces = importlib.import_module("collector.traces")
        store = importlib.import_module("collector.store")
        ingest = traces.TraceIngest(store.Store())
        fn: Callable[[Any], Any] = ingest.ingest
        return fn, "collector.traces.TraceIngest.ingest"
    except Exception as exc:  # any shape mismatch just means "not ready": reported, not fatal
        return None, f"collector ingest not available ({type(exc).__name__}: {exc})"


def bench_spans(fleet: Fleet, result: Result) -> None:
    sim_seconds = active_seconds(fleet, max(e.now for e in fleet.engines)) / len(fleet.pods)
    batches = [(pod, fleet.drain(i)) for i, pod in enumerate(fleet.pods)]
    c0 = time.thread_time()
    request = export_request(batches, namespace=fleet.spec.namespace)
    data = request.SerializeToString()
    c2 = time.thread_time()
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    f = result.figures
    f["spans/s generated (fleet)"] = spans / sim_seconds
    f["span build+encode CPU us/span"] = (c2 - c0) / max(1, spans) * 1e6
    f["OTLP bytes/span"] = len(data) / max(1, spans)
    ingest, how = _collector_ingest()
    if ingest is None:
        result.notes.append(how)
        return
    # The collector's ingest has taken either the decoded request or the raw OTLP bytes while it
    # was being built; pass what its signature asks for (bytes include decoding in the cost).
    params = list(inspect.signature(ingest).parameters.values())
    wants_bytes = bool(params) and "bytes" in str(params[0].annotation)
    c3 = time.thread_time()
    try:
        outcome = ingest(data if wants_bytes else request)
    except Exception as exc:  # the collector is someone else's work in progress: report, go on
        result.notes.append(f"{how} failed: {type(exc).__name__}: {exc}")
        return
    c4 = time.thread_time()
    f["collector ingest CPU us/span"] = (c4 - c3) / max(1, spans) * 1e6
    f["collector ingest cores at this span rate"] = (c4 - c3) / sim_seconds
    result.notes.append(f"spans ingested via {how}: {outcome}")


# -- 2. prometheus ---------------------------------------------------------------------------
@contextlib.contextmanager
def fleet_servers(pods: int, seed: int, rate: float, workdir: Path,
                  count: int) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """`count` fleet-server processes, each simulating the same fleet; the bench points pod i's
    target at server i % count, so each process only ever advances and renders its share (one
    Python process per core keeps the simulator from being the bottleneck at 1,000 pods)."""
    procs: list[tuple[Path, subprocess.Popen[bytes]]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    try:
        for k in range(count):
            address_file = workdir / f"fleet-{k}.address"
            with (workdir / f"fleet-{k}.log").open("wb") as log:
                procs.append((address_file, subprocess.Popen(
                    [sys.executable, "-m", "bench.fleet", "serve", "--pods", str(pods), "--seed", str(seed),
                     "--rate", str(rate), "--address-file", str(address_file)],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )))
        deadline = time.monotonic() + 120
        for address_file, proc in procs:
            while not address_file.exists() or not address_file.read_text().strip():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fleet server did not start; see {workdir}/fleet-*.log")
                time.sleep(0.2)
        yield [(address_file.read_text().strip(), proc) for address_file, proc in procs]
    finally:
        for _, proc in procs:
            stop(proc)


def bench_prometheus(pods: int, result: Result, *, seed: int, rate: float, seconds: float, scrape_interval: int,
                     eval_interval: int, rules: Path | None, servers: int = 2) -> None:
    with tempfile.TemporaryDirectory(prefix="llmslo-fleet-") as tmp:
        workdir = Path(tmp)
        rule_file = rules or workdir / "rules.yml"
        if rules is None:
            rule_file.write_text(rules_yaml())
        with fleet_servers(pods, seed, rate, workdir, servers) as running:
            server_pids = [proc.pid for _, proc in running]
            targets = httpx.get(f"http://{running[0][0]}/targets", timeout=30).json()
            for i, group in enumerate(targets):  # scrape what the sidecar serves: the rules use canonical names
                labels = group["labels"]
                labels["__metrics_path__"] = labels["__metrics_path__"].replace("/metrics", "/sidecar")
                group["targets"] = [running[i % servers][0]]
            job = {"job_name": "vllm-fleet", "scrape_interval": f"{scrape_interval}s",
                   "scrape_timeout": f"{min(scrape_interval, 10)}s", "static_configs": targets}
            with prometheus(workdir / "prom", [job], [rule_file], f"{eval_interval}s") as prom:
                # Warm-up: every target scraped once (first scrapes also advance each pod's simulation).
                deadline = time.monotonic() + scrape_interval * 3 + 60
                while prom.scalar('count(up{job="vllm-fleet"} == 1)') < pods:
                    if time.monotonic() > deadline:
                        result.notes.append(f"only {prom.scalar('count(up == 1)')} of {pods} targets up after warm-up")
                        break
                    time.sleep(1)
                time.sleep(scrape_interval)  # a second scrape of every pod, so rate() has two points
                p0, w0 = cpu_seconds(prom.process.pid), time.monotonic()
                s0 = sum(cpu_seconds(pid) for pid in server_pids)
                load0 = os.getloadavg()[0]
                time.sleep(seconds)
                p1, w1 = cpu_seconds(prom.process.pid), time.monotonic()
                s1 = sum(cpu_seconds(pid) for pid in server_pids)
                wall = w1 - w0
                fams = prom.self_metrics()
                durations = [s.value for s in fams["prometheus_rule_group_last_duration_seconds"].samples]
                f = result.figures
                f["prometheus CPU cores"] = (p1 - p0) / wall
                f["prometheus RSS MiB"] = rss_bytes(prom.process.pid) / 2**20
                f["prometheus head series"] = fams["prometheus_tsdb_head_series"].samples[0].value
                f["scrape samples per pod"] = prom.scalar('avg(scrape_samples_scraped{job="vllm-fleet"})')
                f["scrape duration ms, avg"] = prom.scalar('avg(scrape_duration_seconds{job="vllm-fleet"})') * 1e3
                f["rule groups"] = len(durations)
                f["rule eval ms, sum of groups (last)"] = sum(durations) * 1e3
                f["rule eval ms, slowest group (last)"] = max(durations, default=0.0) * 1e3
                f["rule eval samples (last, all groups)"] = sum(
                    s.value for s in fams["prometheus_rule_group_last_evaluation_samples"].samples)
                f[f"fleet servers x{servers} (sim+sidecar) cores"] = (s1 - s0) / wall
                missed = sum(s.value for s in fams["prometheus_rule_group_iterations_missed_total"].samples)
                # Group durations above are wall time and suffer from every other process on the
                # machine. So also time each rule alone, once the fleet is stopped (scrapes then
                # fail at once and cost ~nothing): Prometheus' own evalTotalTime, best of 3.
                for _, proc in running:
                    stop(proc)
                # Wait out the stale markers Prometheus writes for every series at each target's first
                # failed scrape, then take its idle CPU (failing scrapes, housekeeping) to subtract.
                time.sleep(scrape_interval + 3)
                pid = prom.process.pid
                i0, iw0 = cpu_seconds(pid), time.monotonic()
                time.sleep(5)
                idle = (cpu_seconds(pid) - i0) / (time.monotonic() - iw0)
                c0, cw0 = cpu_seconds(pid), time.monotonic()
                per_rule = serial_rule_eval(prom.url, rule_file)
                busy = cpu_seconds(pid) - c0 - idle * (time.monotonic() - cw0)
                f["rule set eval ms, serial (best of 3)"] = sum(t for t, _ in per_rule) * 1e3
                # CPU is what contention does not inflate: per full pass over the rule set (3 passes ran).
                f["rule set CPU ms per pass (serial)"] = max(0.0, busy) / 3 * 1e3
                f[f"rule CPU cores at {eval_interval}s eval"] = max(0.0, busy) / 3 / eval_interval
                top = ", ".join(f"{t * 1e3:.0f} ms: {e[:70]}" for t, e in sorted(per_rule, reverse=True)[:3])
                result.notes.append(f"{pods} pods: costliest rules (serial): {top}")
                result.notes.append(f"{pods} pods: {wall:.0f} s window, load average {load0:.1f} -> "
                                    f"{os.getloadavg()[0]:.1f} (2 shared cores), rule iterations missed: {missed:g}")


def serial_rule_eval(url: str, rule_file: Path) -> list[tuple[float, str]]:
    """Per expression of the rule file: the best of three `evalTotalTime`s (seconds), and the expression."""
    doc = yaml.safe_load(rule_file.read_text())
    exprs = [str(rule["expr"]) for group in doc.get("groups", []) for rule in group.get("rules", [])]
    at = repr(time.time())
    out = []
    for expr in exprs:
        best = float("inf")
        for _ in range(3):
            body = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": at, "stats": "all"},
                             timeout=120).json()
            if body.get("status") != "success":
                raise RuntimeError(f"rule expression failed: {expr[:80]!r}: {body.get('error')}")
            best = min(best, float(body["data"]["stats"]["timings"]["evalTotalTime"]))
        out.append((best, expr))
    return out


# -- report ----------------------------------------------------------------------------------
def table(results: Sequence[Result]) -> str:
    keys: list[str] = []
    for r in results:
        keys += [k for k in r.figures if k not in keys]
    heads = [f"{r.pods} pods" for r in results]
    growth = len(results) >= 2
    width = max(len(k) for k in keys)
    lines = [f"{'':{width}}  " + "  ".join(f"{h:>12}" for h in heads) + (f"  {'growth':>8}" if growth else "")]
    for k in keys:
        vals = [r.figures.get(k) for r in results]
        row = f"{k:{width}}  " + "  ".join(f"{v:12.4g}" if v is not None else f"{'-':>12}" for v in vals)
        first, last = vals[0], vals[-1]
        if growth and first and last is not None:
            row += f"  {last / first:7.2f}x"
        lines.append(row)
    if growth:
        lines.append(f"growth = {results[-1].pods} pods / {results[0].pods} pods "
                     f"(x{results[-1].pods / results[0].pods:g} pods); ~1x is flat per pod, ~"
                     f"{results[-1].pods / results[0].pods:g}x is linear in pods")
    return "\n".join(lines)


def run(pod_counts: Sequence[int], *, seed: int, rate: float, rounds: int, interval: float, seconds: float,
        scrape_interval: int, eval_interval: int, rules: Path | None, skip_prometheus: bool,
        json_out: Path | None, servers: int = 2) -> int:
    results = []
    for pods in pod_counts:
        result = Result(pods)
        print(f"[fleet] {pods} pods: sidecar and spans ...", file=sys.stderr, flush=True)
        fleet = Fleet(FleetSpec(pods=pods, seed=seed, rate_per_pod=rate), keep_finished=True)
        bench_sidecar(fleet, result, rounds, interval)
        bench_spans(fleet, result)
        del fleet
        if not skip_prometheus:
            print(f"[fleet] {pods} pods: prometheus for {seconds:g} s ...", file=sys.stderr, flush=True)
            bench_prometheus(pods, result, seed=seed, rate=rate, seconds=seconds, scrape_interval=scrape_interval,
                             eval_interval=eval_interval, rules=rules, servers=servers)
        results.append(result)
    print(table(results))
    for r in results:
        for note in r.notes:
            print(f"note: {note}")
    if json_out is not None:
        json_out.write_text(json.dumps([{"pods": r.pods, **r.figures, "notes": r.notes} for r in results],
                                       indent=2, sort_keys=True) + "\n")
    return 0
