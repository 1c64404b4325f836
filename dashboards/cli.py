"""`llmslo dashboards generate` and `llmslo dashboards render-png`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dashboards.generate import boards, render, write


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("dashboards", help="generate Grafana dashboards (JSON, ConfigMaps, provisioning)")
    commands = parser.add_subparsers(dest="dashboards_command", metavar="COMMAND", required=True)

    gen = commands.add_parser("generate", help="write the dashboards, one ConfigMap each and a provisioning file")
    gen.add_argument("--slo", nargs="+", default=[], metavar="SPEC", type=Path,
                     help="SLO spec files or folders; adds the SLO dashboard (one row per SLO)")
    gen.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="output folder")
    gen.add_argument("--namespace", default=None, help="namespace to put on the ConfigMaps (default: none)")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 when DIR differs from what would be generated (for CI)")
    gen.set_defaults(handler=_generate)

    png = commands.add_parser("render-png", help="render a generated dashboard to PNG from a live Prometheus")
    from dashboards.render.cli import add_arguments

    add_arguments(png)


def _slo_board(paths: list[Path]) -> dict[str, Any] | None:
    if not paths:
        return None
    from dashboards.llm.slo import build_from_paths

    return build_from_paths(paths)


def _generate(args: argparse.Namespace) -> int:
    try:
        files = render(boards(_slo_board(args.slo)), namespace=args.namespace)
    except (OSError, ValueError) as exc:
        print(f"llmslo dashboards generate: {exc}", file=sys.stderr)
        return 1
    out: Path = args.output
    if args.check:
        stale = sorted(rel for rel, text in files.items()
                       if not (out / rel).is_file() or (out / rel).read_text(encoding="utf-8") != text)
        for rel in stale:
            print(f"{out / rel}: out of date (run llmslo dashboards generate -o {out})", file=sys.stderr)
        return 1 if stale else 0
    for path in write(files, out):
        print(path)
    return 0
