"""Serve one captured exposition file at /metrics: the demo's stand-in for a dcgm-exporter (no GPU here).

`python -m llmslo_demo.static_metrics FILE PORT`
"""

from __future__ import annotations

import sys
from pathlib import Path

from exporters.server import make_server


def serve(path: Path, port: int) -> None:
    text = path.read_bytes().decode("utf-8")  # byte for byte: no newline translation
    make_server("127.0.0.1", port, lambda: text).serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
