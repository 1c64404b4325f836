"""What the demo runs: where vLLM lives, how long each load phase lasts, which tenants send what.

The defaults make the full demo (about 8 minutes after vLLM starts) and its shortened form used by the
e2e test (`DemoConfig.short()`) tell the same story: a calm phase that meets the TTFT SLO, an overload
that breaks it and pages, and a recovery in which the page resolves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
DATA = PACKAGE / "data"
DCGM_CAPTURE = DATA / "dcgm-exporter-k8s-podmapped-rtx4000ada.prom"
DEMO_SPEC = DATA / "demo-slos.yaml"
EXAMPLES = REPO / "slo" / "examples"

# scripts/setup installs vLLM and generates the model here unless told otherwise.
_CACHE = Path.home() / ".cache" / "llmslo"
DEFAULT_VLLM_PYTHON = _CACHE / "vllm-0.32.0" / "bin" / "python"
DEFAULT_VLLM_MODEL = _CACHE / "tiny-llama"

SERVED_MODEL = "tiny"
NAMESPACE = "demo"
POD = "vllm-demo-0"
TENANT_HEADER = "x-tenant"


@dataclass(frozen=True)
class Phase:
    """``concurrency`` clients send requests back to back for ``seconds``."""

    name: str
    seconds: float
    concurrency: int


@dataclass(frozen=True)
class Tenant:
    name: str
    weight: float  # share of requests
    max_tokens: tuple[int, int]  # output length range, inclusive


@dataclass(frozen=True)
class DemoConfig:
    out_dir: Path
    vllm_python: Path = field(default_factory=lambda: Path(os.environ.get("LLMSLO_VLLM_PYTHON", DEFAULT_VLLM_PYTHON)))
    vllm_model: Path = field(default_factory=lambda: Path(os.environ.get("LLMSLO_VLLM_MODEL", DEFAULT_VLLM_MODEL)))
    # A small running batch, so an overload queues requests and TTFT grows the way it does on a full GPU.
    max_num_seqs: int = 4
    phases: tuple[Phase, ...] = (
        Phase("calm", 120, 2),
        Phase("overload", 180, 48),
        Phase("recovery", 150, 1),
    )
    tenants: tuple[Tenant, ...] = (
        Tenant("acme", 0.5, (8, 48)),
        Tenant("globex", 0.3, (16, 96)),
        Tenant("initech", 0.15, (4, 24)),
        Tenant("umbrella", 0.05, (32, 128)),
    )
    scrape_interval_s: int = 2
    seed: int = 7
    live_view: bool = True
    vllm_startup_timeout_s: float = 600

    @classmethod
    def short(cls, out_dir: Path) -> DemoConfig:
        """The e2e test's demo: the same story in about 3 minutes of load."""
        return replace(
            cls(out_dir=out_dir),
            phases=(Phase("calm", 35, 2), Phase("overload", 75, 32), Phase("recovery", 70, 1)),
            live_view=False,
        )

    @property
    def load_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)
