"""`llmslo rules generate SPEC... -o DIR`: SLO specs to rule files, PrometheusRules and promtool tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slo.rules.output import plan, write
from slo.spec import SpecError, load_specs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = sub.add_parser("rules", help="generate Prometheus rules from SLO specs")
    rsub = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    gen = rsub.add_parser(
        "generate", help="SLO specs -> rule files, PrometheusRules and promtool tests",
        description="Write DIR/<spec>.rules.yaml, DIR/<spec>.prometheusrule.yaml and DIR/tests/<slo>.test.yaml.",
    )
    gen.add_argument("specs", nargs="+", metavar="SPEC", help="spec files or folders (llmslo/v1 or openslo/v1)")
    gen.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="output folder")
    gen.add_argument("--namespace", default=None, help="metadata.namespace of the PrometheusRules")
    gen.add_argument("--no-tests", action="store_true", help="do not write promtool test files")
    gen.set_defaults(handler=_generate)
    def _help(args: argparse.Namespace) -> int:
        rules.print_help()
        return 2

    rules.set_defaults(handler=_help)


def _generate(args: argparse.Namespace) -> int:
    try:
        slos = load_specs(args.specs)
        files = plan(slos, namespace=args.namespace, with_tests=not args.no_tests)
    except SpecError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        written = write(files, args.output)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    groups = sum(1 for p in written if p.name.endswith(".rules.yaml"))
    print(f"llmslo rules: {len(slos)} SLOs -> {len(written)} files ({groups} rule files) in {args.output}")
    return 0
