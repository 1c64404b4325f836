"""Where the real captures live: shared/fixtures beside the repository (in CI too).

``LLMSLO_SHARED_FIXTURES`` points elsewhere, for a clone that does not sit beside ``shared/``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_FIXTURES = Path(os.environ.get("LLMSLO_SHARED_FIXTURES") or REPO.parent / "shared" / "fixtures")

VLLM_032 = SHARED_FIXTURES / "vllm-0.32-cpu"
VLLM_V0 = SHARED_FIXTURES / "vllm-v0-metrics-opt125m.prom"
DCGM = SHARED_FIXTURES / "dcgm-exporter-k8s-podmapped-rtx4000ada.prom"


def read(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the tests need ../shared/fixtures beside the repo "
                                "(or LLMSLO_SHARED_FIXTURES pointing at it)")
    return path.read_text(encoding="utf-8")
