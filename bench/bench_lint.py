"""slo-lint on a repository of 1,000 SLOs plus everything llmslo generates from them.

Builds a temporary repo: 100 spec files of 10 SLOs each (latency on every latency SLI with
thresholds on the boundaries, availability, token latency, cache-hit and throughput floors, per
model and per tenant), the rule files, PrometheusRules and promtool tests that `slo.rules`
generates from them, and the dashboards (`llmslo dashboards generate --slo`, one SLO row per SLO).
Then times one lint of the whole tree in this process (one core: slo-lint is single-threaded),
without the drift check (that one runs the generators; its cost is the generators').

Target (issue 4): under 3 s.

    .venv/bin/python bench/bench_lint.py [--runs 3] [--slos 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slo.lint import lint_paths
from slo.lint.promql import parse
from slo.rules.output import plan
from slo.spec import load_specs

PER_FILE = 10
LATENCY = (("ttft", 0.5), ("ttft", 1.0), ("tpot", 0.05), ("e2e", 10.0), ("queue", 0.25), ("proxy_ttft", 1.0))


def spec_text(file_no: int) -> str:
    out = ["apiVersion: llmslo/v1", "kind: SLOSpec", "slos:"]
    for i in range(PER_FILE):
        n = file_no * PER_FILE + i
        name = f"svc{file_no}-slo{i}"
        kind = n % 5
        if kind in (0, 1):
            metric, threshold = LATENCY[n % len(LATENCY)]
            sli = f"{{kind: latency, metric: {metric}, threshold: {threshold}}}"
        elif kind == 2:
            sli = "{kind: availability}"
        elif kind == 3:
            sli = "{kind: token_latency, metric: itl, threshold: 0.1}"
        else:
            sli = "{kind: cache_hit, floor: 0.3}"
        by = "[model, tenant]" if kind == 2 else "[model]"
        out += [
            f"  - name: {name}",
            f"    sli: {sli}",
            f"    objective: {99 if n % 2 else 99.5}",
            "    window: 7d",
            f"    by: {by}",
            "    alerting:",
            f"      runbook_url: https://runbooks.example.com/{name}",
        ]
    return "\n".join(out) + "\n"


def build_repo(root: Path, slos: int) -> None:
    specs = root / "slo"
    specs.mkdir(parents=True)
    files = max(1, slos // PER_FILE)
    for f in range(files):
        (specs / f"svc{f}.yaml").write_text(spec_text(f))
    rules = root / "deploy" / "rules"
    for rel, text in plan(load_specs([str(specs)])).items():
        (rules / rel).parent.mkdir(parents=True, exist_ok=True)
        (rules / rel).write_text(text)
    subprocess.run(
        [sys.executable, "-m", "slo.cli", "dashboards", "generate", "--slo", str(specs), "-o",
         str(root / "deploy" / "dashboards")],
        check=True, capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repo", type=Path, help="reuse (or build once into) this folder instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lint-") as tmp:
        root = args.repo or Path(tmp)
        t0 = time.perf_counter()
        if not (root / "slo").is_dir():
            build_repo(root, args.slos)
        build_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        cwd = os.getcwd()
        os.chdir(root)
        try:
            times, cpu = [], []
            result = None
            for _ in range(args.runs):
                parse.cache_clear()  # every run parses every query, as a fresh CI process does
                t, c = time.perf_counter(), time.process_time()
                result = lint_paths(["."])
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        finally:
            os.chdir(cwd)
        assert result is not None
        print(f"python {platform.python_version()} on {platform.machine()}, 1 process")
        print(f"repo: {args.slos} SLOs, {len(result.files)} files, {size / 1e6:.1f} MB "
              f"(built in {build_s:.1f} s)")
        print(f"linted: {result.queries} PromQL queries, {result.rules} rules, {len(result.findings)} findings")
        print(f"lint time: median {statistics.median(times):.2f} s wall, {statistics.median(cpu):.2f} s CPU; "
              f"min {min(times):.2f} s wall over {args.runs} runs (target < 3 s)")
        for f in result.findings[:5]:
            print(f"  {f.path}:{f.line}: {f.check_id}: {f.message[:100]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
