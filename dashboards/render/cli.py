"""`llmslo dashboards render-png`: a generated dashboard JSON plus a Prometheus URL in, a PNG out."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dashboards.render.expand import variable_defaults
from dashboards.render.png import render_png
from dashboards.render.prom import Prometheus, QueryError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dashboard", type=Path, help="a dashboard JSON written by `llmslo dashboards generate`")
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--range", dest="range_s", type=float, default=900.0, help="seconds to show (default 900)")
    parser.add_argument("--step", type=float, default=5.0, help="query step in seconds (default 5)")
    parser.add_argument("--rate-interval", default="1m", help="what $__rate_interval becomes (default 1m)")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable's value (default: All, i.e. .*); repeatable")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        board = json.loads(args.dashboard.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"llmslo dashboards render-png: {args.dashboard}: {exc}", file=sys.stderr)
        return 1
    values = variable_defaults(board, args.rate_interval)
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"llmslo dashboards render-png: --var {item!r}: expected NAME=VALUE", file=sys.stderr)
            return 1
        values[name] = value
    end = time.time()
    prom = Prometheus(args.prometheus)
    try:
        prom.query("vector(1)", end)  # fail fast, and once, when Prometheus cannot be reached
        drawn = render_png(board, prom, values, args.output, start=end - args.range_s, end=end, step=args.step,
                           subtitle=f"rendered from {args.prometheus}, last {args.range_s / 60:g} min")
    except QueryError as exc:
        print(f"llmslo dashboards render-png: {exc}", file=sys.stderr)
        return 1
    finally:
        prom.close()
    empty = [d.panel.get("title", "") for d in drawn if d.panel.get("type") != "row" and not d.series]
    print(f"{args.output}: {len(drawn)} panels, {len(empty)} without data{': ' if empty else ''}{', '.join(empty)}")
    return 0
