"""`llmslo demo`: the README's first command runs this."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from llmslo_demo.config import DemoConfig


def _demo(args: argparse.Namespace) -> int:
    from llmslo_demo.procs import StartError
    from llmslo_demo.run import run_demo, summary_lines

    # The live view polls Prometheus every 2 s; one log line per request would drown it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out = Path(args.output or tempfile.mkdtemp(prefix="llmslo-demo-")).resolve()
    cfg = DemoConfig.short(out) if args.short else DemoConfig(out_dir=out)
    cfg = replace(cfg, live_view=not args.no_live and cfg.live_view)
    print(f"llmslo demo: output in {out}", flush=True)
    try:
        result = run_demo(cfg, say=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print("\ninterrupted: every component was stopped", file=sys.stderr)
        return 130
    except (StartError, RuntimeError) as exc:
        print(f"llmslo demo: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(result, cfg):
        print(line)
    return 0 if result.report is not None and result.report.ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="run the whole pipeline on a real vLLM and page on an SLO breach",
        description="Starts a real vLLM, the proxy, the vLLM and DCGM sidecars, the collector, Prometheus with "
        "rules generated from the SLO specs and Alertmanager; drives a calm phase, an overload that breaks the "
        "TTFT SLO and a recovery; shows the SLIs live; writes an SLO report (HTML, PNG) and the generated "
        "rules, dashboards and collector config to the output folder.")
    demo.add_argument("-o", "--output", help="output folder (default: a new temporary folder)")
    demo.add_argument("--short", action="store_true", help="the 3-minute version the e2e test runs")
    demo.add_argument("--no-live", action="store_true", help="print lines instead of the live view")
    demo.set_defaults(handler=_demo)
