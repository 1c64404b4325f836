"""A fleet simulator for scale tests: many vLLM 0.32 engines emitting real-format /metrics and
`llm_request` spans, and the bench that measures llmslo's cost against pod count. See docs/fleet.md."""

from bench.fleet.engine import Engine, SimRequest
from bench.fleet.exposition import render, render_plan
from bench.fleet.fleet import Fleet
from bench.fleet.spans import export_request, request_span
from bench.fleet.template import Layout, compile_layout, vllm_032_layout
from bench.fleet.workload import FleetSpec, ModelSpec, PodSpec, TenantSpec, plan_pods

__all__ = [
    "Engine", "Fleet", "FleetSpec", "Layout", "ModelSpec", "PodSpec", "SimRequest", "TenantSpec",
    "compile_layout", "export_request", "plan_pods", "render", "render_plan", "request_span", "vllm_032_layout",
]
