"""`python -m exporters.proxy --upstream ... --port ... --metrics-port ...` (same flags as
`llmslo exporter proxy`), for a process of its own without the umbrella CLI."""

from __future__ import annotations

import argparse
import logging
import sys

from exporters.proxy.config import ConfigError, add_arguments, from_args
from exporters.proxy.server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.proxy", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
