"""`llmslo`: one umbrella CLI. Each package contributes its subcommands through the
`llmslo.commands` entry-point group, so this module never imports exporters, collector or
dashboards (they depend on slo, not the other way round)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from slo import __version__

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _builtin(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from slo.catalog_doc import register

    register(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmslo",
        description="Token-level SLOs for LLM inference: canonical SLIs from vLLM and DCGM, "
        "SLO rules, dashboards and lint.",
    )
    parser.add_argument("--version", action="version", version=f"llmslo {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log verbosity"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _builtin(sub)
    for ep in sorted(entry_points(group="llmslo.commands"), key=lambda e: e.name):
        try:
            register: Register = ep.load()
        except Exception as exc:  # a broken plug-in must not hide the others
            print(f"llmslo: cannot load subcommand {ep.name!r} from {ep.value}: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
