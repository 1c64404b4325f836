"""What a simulated fleet looks like: models, tenants and pods. Frozen data, no behaviour.

The defaults aim at "a production-ish vLLM fleet on GPUs", not at the tiny CPU model of the
captures: a few models with different speeds, tenants with different prompt/output mixes and
shared system prompts (so the prefix cache hits), and per-pod load that varies (a few hot pods
queue, most do not). Everything is derived from one seed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

# The OpenAI routes the vLLM 0.32 template has `http_*` series for.
ROUTES: tuple[str, ...] = ("/v1/chat/completions", "/v1/completions")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How fast one model serves on one pod. TPOT grows with the batch: `tpot_s * (1 + tpot_batch_factor
    * busy_fraction)`, a first-order stand-in for decode being memory-bound until the batch fills."""

    name: str
    prefill_tokens_per_s: float = 12000.0
    prefill_overhead_s: float = 0.004
    tpot_s: float = 0.018
    tpot_batch_factor: float = 1.5
    max_num_seqs: int = 32
    kv_cache_tokens: int = 1048576
    max_model_len: int = 8192


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """A client population. Lengths are log-normal around the medians; `max_tokens` caps the output
    (a request that reaches it finishes with reason `length`, otherwise `stop`)."""

    name: str
    weight: float
    api: str = "/v1/chat/completions"
    prompt_median: int = 512
    prompt_sigma: float = 0.8
    output_median: int = 128
    output_sigma: float = 0.7
    max_tokens: int = 512
    shared_prefix_tokens: int = 0  # a system prompt every request of the tenant starts with
    prefix_hit_prob: float = 0.0  # chance the shared prefix is still in the pod's prefix cache
    temperature: float = 0.7  # 0 is valid and, as in vLLM, leaves the span attribute out
    top_p: float = 1.0


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("meta-llama/Llama-3.1-8B-Instruct"),
    ModelSpec("Qwen/Qwen2.5-32B-Instruct", prefill_tokens_per_s=5000.0, tpot_s=0.035, max_num_seqs=24,
              kv_cache_tokens=393216, max_model_len=32768),
    ModelSpec("mistralai/Mixtral-8x7B-Instruct-v0.1", prefill_tokens_per_s=7000.0, tpot_s=0.026,
              kv_cache_tokens=524288, max_model_len=32768),
)

DEFAULT_TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec("chat-app", 0.55, prompt_median=600, output_median=180, max_tokens=1024,
               shared_prefix_tokens=384, prefix_hit_prob=0.9),
    TenantSpec("rag-search", 0.25, prompt_median=3000, prompt_sigma=0.5, output_median=200, max_tokens=400,
               shared_prefix_tokens=256, prefix_hit_prob=0.6, temperature=0.2),
    TenantSpec("batch-summarize", 0.15, api="/v1/completions", prompt_median=1500, output_median=60,
               output_sigma=0.4, max_tokens=64, temperature=1.0),
    TenantSpec("code-assist", 0.05, prompt_median=1200, output_median=300, max_tokens=2048,
               shared_prefix_tokens=1024, prefix_hit_prob=0.8, temperature=0.1, top_p=0.95),
)


@dataclass(frozen=True, slots=True)
class FleetSpec:
    pods: int
    seed: int = 0
    rate_per_pod: float = 2.0  # mean requests/s of a pod
    rate_spread: float = 0.5  # log-normal sigma of per-pod load: some pods run hot
    abort_prob: float = 0.002  # client disconnects mid-request: no span, reason `abort`
    start: float = 1.8e9  # simulated epoch seconds; pods start up to `start_spread_s` before it
    start_spread_s: float = 60.0
    load_time_s: float = 70.0  # process start -> first request (the template's is ~70 s)
    namespace: str = "llm-serving"
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    tenants: tuple[TenantSpec, ...] = DEFAULT_TENANTS

    def __post_init__(self) -> None:
        problems = []
        if self.pods < 1:
            problems.append(f"pods must be >= 1, got {self.pods}")
        if self.rate_per_pod <= 0:
            problems.append(f"rate_per_pod must be > 0, got {self.rate_per_pod}")
        if not 0 <= self.abort_prob < 1:
            problems.append(f"abort_prob must be in [0, 1), got {self.abort_prob}")
        if not self.models or not self.tenants:
            problems.append("at least one model and one tenant are needed")
        if any(t.weight <= 0 for t in self.tenants):
            problems.append("tenant weights must be > 0")
        for t in self.tenants:
            if t.api not in ROUTES:
                problems.append(f"tenant {t.name}: api {t.api!r} is not one of vLLM's routes in the template {ROUTES}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class PodSpec:
    index: int
    name: str  # the Kubernetes pod name, used as the `pod` target label
    model: ModelSpec
    rate: float  # requests/s
    seed: int
    process_start: float  # process_start_time_seconds
    first_arrival_after: float  # when the engine is loaded and takes requests
    pid: int  # what vLLM puts in vllm.process_id
    instance_id: str  # service.instance.id (the OTel SDK's random UUID per process)
    tenants: tuple[TenantSpec, ...] = field(repr=False, default=())
    abort_prob: float = 0.0


def _slug(model: str) -> str:
    return model.rsplit("/", 1)[-1].lower().replace(".", "-").replace("_", "-")


def plan_pods(spec: FleetSpec) -> tuple[PodSpec, ...]:
    """Every pod's fixed parameters, from the seed alone (no clock)."""
    rng = random.Random(f"fleet:{spec.seed}")
    pods = []
    for i in range(spec.pods):
        model = spec.models[i % len(spec.models)]
        start = spec.start - rng.uniform(0.0, spec.start_spread_s) - spec.load_time_s
        rate = spec.rate_per_pod * rng.lognormvariate(-spec.rate_spread**2 / 2, spec.rate_spread)
        pods.append(PodSpec(
            index=i,
            name=f"vllm-{_slug(model.name)}-{i:05d}",
            model=model,
            rate=rate,
            seed=rng.getrandbits(63),
            process_start=round(start, 2),
            first_arrival_after=start + spec.load_time_s,
            pid=rng.randrange(100, 4_000_000),
            instance_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            tenants=spec.tenants,
            abort_prob=spec.abort_prob,
        ))
    return tuple(pods)
