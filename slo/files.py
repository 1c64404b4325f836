"""Writing generated files: every generator (rules, dashboards, collector config) goes through here."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_files(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    """Write each file atomically (a temp file beside it, then a rename), so a reader such as
    Prometheus or Grafana's file provider never sees half a file; return the paths written."""
    written: list[Path] = []
    for rel, text in files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
