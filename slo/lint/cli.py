"""`slo-lint [PATHS...]`: exit 0 when clean, 1 when a problem at or above --fail-on is found,
2 on a usage error or an input that cannot be read or parsed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from slo.catalog.versions import parse_version
from slo.lint.config import DEFAULT_CONFIG_NAME, ConfigError, LintConfig, load_config
from slo.lint.discover import UsageError
from slo.lint.durations import parse_duration
from slo.lint.engine import lint_paths
from slo.lint.findings import Severity
from slo.lint.output import FORMATS, render, summary
from slo.lint.registry import CHECKS

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slo-lint",
        description="Lint SLO specs, generated Prometheus rules and Grafana dashboards before merge.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to lint (default: .)")
    parser.add_argument("--format", choices=FORMATS, default="human", help="output format (default: human)")
    parser.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default=None,
        help="exit 1 when a problem at or above this severity is found (default: error, or the config's fail-on)",
    )
    parser.add_argument("--config", metavar="FILE", help=f"config file (default: ./{DEFAULT_CONFIG_NAME} if present)")
    parser.add_argument("--vllm-version", metavar="X.Y.Z", help="vLLM release queries must work against")
    parser.add_argument("--scrape-interval", metavar="DURATION", help="scrape interval, e.g. 15s or 30s")
    parser.add_argument("--no-drift", action="store_true",
                        help="skip the generated-artifact drift check (it runs the generators)")
    parser.add_argument("--list-checks", action="store_true", help="print every check id and exit")
    return parser


def _config(args: argparse.Namespace) -> LintConfig:
    if args.config:
        cfg = load_config(Path(args.config))
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        cfg = load_config(Path(DEFAULT_CONFIG_NAME))
    else:
        cfg = LintConfig()
    try:
        if args.vllm_version:
            cfg = replace(cfg, vllm_version=parse_version(args.vllm_version))
        if args.scrape_interval:
            cfg = replace(cfg, scrape_interval_s=parse_duration(args.scrape_interval))
        if args.no_drift:
            cfg = replace(cfg, generated=())
        if args.fail_on:
            cfg = replace(cfg, fail_on=Severity.parse(args.fail_on))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if args.list_checks:
        for c in sorted(CHECKS.values(), key=lambda c: c.id):
            print(f"{c.id:32} {c.severity.label:8} {c.summary}")
        return EXIT_CLEAN
    try:
        config = _config(args)
        result = lint_paths(args.paths or ["."], config)
    except (ConfigError, UsageError) as exc:
        print(f"slo-lint: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render(args.format, result.findings, len(result.files)))
    print(summary(result.findings, len(result.files)), file=sys.stderr)
    if any(f.check_id == "input/unreadable" for f in result.findings):
        return EXIT_USAGE
    if any(f.severity >= config.fail_on for f in result.findings):
        return EXIT_PROBLEMS
    return EXIT_CLEAN
