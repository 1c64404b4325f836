"""Where the real captures live: shared/fixtures beside the repository (in CI too).

``LLMSLO_SHARED_FIXTURES`` points elsewhere, for a clone that does not sit beside ``shared/``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _shared_fixtures() -> Path:
    """``LLMSLO_SHARED_FIXTURES``, else ``shared/fixtures`` beside the repo, else beside the repo this
    one was cloned from (a throw-away clone in a temporary folder still finds the real captures)."""
    if os.environ.get("LLMSLO_SHARED_FIXTURES"):
        return Path(os.environ["LLMSLO_SHARED_FIXTURES"])
    beside = REPO.parent / "shared" / "fixtures"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        origin = ""
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared" / "fixtures"
    return beside


SHARED_FIXTURES = _shared_fixtures()

VLLM_032 = SHARED_FIXTURES / "vllm-0.32-cpu"
VLLM_V0 = SHARED_FIXTURES / "vllm-v0-metrics-opt125m.prom"
DCGM = SHARED_FIXTURES / "dcgm-exporter-k8s-podmapped-rtx4000ada.prom"


def read(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the tests need ../shared/fixtures beside the repo "
                                "(or LLMSLO_SHARED_FIXTURES pointing at it)")
    return path.read_text(encoding="utf-8")
