"""Rule generation cost: time to load and generate 1,000 SLOs (target: under 2 s), and rules per SLO.

Builds one llmslo/v1 spec file holding N SLOs that cycle through every SLI kind, objectives and
windows, then times: YAML loading + validation (`load_specs`), rule generation (`generate`), spec
to rendered rule files and PrometheusRules (the 2 s target), and the same plus the generated
promtool test files. Reports the median of `--runs` runs and the rules per SLO, next to Sloth's 17.

    .venv/bin/python bench/bench_rules.py [--slos 1000] [--runs 5] [--promtool]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from slo.rules.generate import generate
from slo.rules.output import plan, write
from slo.spec import load_specs

SLOTH_RULES_PER_SLO = 17
KINDS = [
    "{kind: latency, metric: ttft, threshold: 0.5}",
    "{kind: latency, metric: tpot, threshold: 0.05}",
    "{kind: latency, metric: e2e, threshold: 10}",
    "{kind: token_latency, metric: itl, threshold: 0.1}",
    "{kind: availability, source: proxy}",
    "{kind: availability, source: engine}",
    "{kind: goodput, targets: {ttft: 0.5, tpot: 0.05}}",
    "{kind: cache_hit, floor: 0.3}",
    "{kind: throughput, floor: 50}",
]
OBJECTIVES = ["99", "99.5", "99.9", "99.95"]
WINDOWS = ["28d", "30d", "7d"]


def spec_text(n: int) -> str:
    lines = ["apiVersion: llmslo/v1", "slos:"]
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        by = "[model]" if "proxy" not in kind and "goodput" not in kind else "[model, tenant]"
        lines += [
            f"  - name: slo-{i:05d}",
            f"    sli: {kind}",
            f"    objective: {OBJECTIVES[i % len(OBJECTIVES)]}",
            f"    window: {WINDOWS[i % len(WINDOWS)]}",
            f"    by: {by}",
            "    min_traffic: 10/h",
            "    alerting: {runbook_url: https://runbooks.example.com/slo}",
        ]
    return "\n".join(lines) + "\n"


def _median(fn: object, runs: int) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--promtool", action="store_true", help="also time `promtool check rules` on the output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(spec_text(args.slos))
        slos = load_specs([spec])
        t_load = _median(lambda: load_specs([spec]), args.runs)
        t_gen = _median(lambda: generate(slos), args.runs)
        t_files = _median(lambda: plan(load_specs([spec]), with_tests=False), args.runs)
        t_plan = _median(lambda: plan(load_specs([spec])), args.runs)
        groups = generate(slos)
        per_slo = Counter(len(g.rules) for g in groups)
        records = sum(len(g.records) for g in groups)
        alerts = sum(len(g.alerts) for g in groups)
        print(f"python {platform.python_version()} on {platform.machine()}, {args.slos} SLOs, median of {args.runs}")
        print(f"load + validate     {t_load * 1000:8.1f} ms")
        print(f"generate rules      {t_gen * 1000:8.1f} ms")
        print(f"load -> rule files  {t_files * 1000:8.1f} ms   (load, rules, rendered rule files and PrometheusRules)")
        print(f"  + promtool tests  {t_plan * 1000:8.1f} ms   (everything `llmslo rules generate` writes)")
        print(f"rules per SLO       {dict(sorted(per_slo.items()))}  (Sloth: {SLOTH_RULES_PER_SLO})")
        print(f"total               {records} recording + {alerts} alerting = {records + alerts} rules")
        print(f"target < 2 s        {'met' if t_files < 2 else 'MISSED'} (load -> rule files)")
        promtool = shutil.which("promtool")
        if args.promtool and promtool:
            out = Path(tmp) / "out"
            write(plan(slos, with_tests=False), out)
            start = time.perf_counter()
            subprocess.run([promtool, "check", "rules", *sorted(map(str, out.glob("*.rules.yaml")))], check=True,
                           capture_output=True)
            print(f"promtool check      {(time.perf_counter() - start) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
