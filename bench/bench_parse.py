"""Parse time of the exposition parser on the real captures, next to prometheus_client's parser.

For each capture: our parser with the family filter the collector uses (`vllm:` or `DCGM_`) and
without one, each warm (the series cache filled by earlier scrapes, the steady state of a
collector scraping the same server) and cold (cache cleared before every run, the first scrape
of a new server); then prometheus_client's `text_string_to_metric_families` on the same text.
Median and p90 in microseconds, from time.perf_counter_ns.

    .venv/bin/python bench/bench_parse.py [--runs 2000] [--client-runs 200]
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from slo.metrics.parse import clear_cache, parse_exposition

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
CAPTURES = {
    "vllm-0.32-cpu/metrics-after-21-requests.prom": "vllm:",
    "vllm-0.32-cpu/metrics-after-load.prom": "vllm:",
    "vllm-v0-metrics-opt125m.prom": "vllm:",
    "dcgm-exporter-k8s-podmapped-rtx4000ada.prom": "DCGM_",
}


def measure(run: Callable[[], object], runs: int, before: Callable[[], None] | None = None) -> tuple[float, float]:
    """(median, p90) in µs. GC is off while timing: a collection landing in one run measures the
    test harness, not the parser."""
    for _ in range(min(50, runs)):
        run()
    samples: list[int] = []
    gc.disable()
    try:
        for _ in range(runs):
            if before is not None:
                before()
            start = time.perf_counter_ns()
            run()
            samples.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[min(len(samples) - 1, int(0.9 * len(samples)))] / 1000


Case = tuple[str, Callable[[], object], Callable[[], None] | None]


def _cases(text: str, prefix: str) -> list[Case]:
    keep = (prefix,)
    return [
        (f"ours keep={prefix!r} warm", lambda: parse_exposition(text, keep=keep), None),
        (f"ours keep={prefix!r} cold", lambda: parse_exposition(text, keep=keep), clear_cache),
        ("ours all warm", lambda: parse_exposition(text), None),
        ("ours all cold", lambda: parse_exposition(text), clear_cache),
        ("prometheus_client", lambda: list(text_string_to_metric_families(text)), None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument(
        "--client-runs", type=int, default=200, help="runs of prometheus_client's parser (~20x slower than ours)"
    )
    args = parser.parse_args()
    runs: int = args.runs
    client_runs: int = args.client_runs

    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{runs} runs each ({client_runs} for prometheus_client), times in µs"
    )
    print(f"{'capture':<56} {'parser':<28} {'median':>9} {'p90':>9}")
    for name, prefix in CAPTURES.items():
        text = (FIXTURES / name).read_bytes().decode("utf-8")
        cases = _cases(text, prefix)
        lines = text.count("\n") + 1
        for label, run, before in cases:
            median, p90 = measure(run, client_runs if label == "prometheus_client" else runs, before)
            print(f"{name + f' ({lines} lines)':<56} {label:<28} {median:>9.1f} {p90:>9.1f}")


if __name__ == "__main__":
    main()
