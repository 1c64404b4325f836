"""Command-line entry of slo-lint. The checks themselves arrive with the lint issue; until then
the command refuses to pretend it checked anything."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slo-lint",
        description="Lint SLO specs, generated Prometheus rules and Grafana dashboards before merge.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to lint")
    parser.add_argument(
        "--format", choices=("human", "json", "github", "sarif"), default="human", help="output format"
    )
    parser.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default="error",
        help="exit 1 when a problem at or above this severity is found",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print("slo-lint: no checks are implemented in this version yet", file=sys.stderr)
    return 2
