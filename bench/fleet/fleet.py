"""Many engines behind one object: advance them to a time, render a pod, collect spans. Pure
(time is an argument); the HTTP server and the bench are the edges that read the clock."""

from __future__ import annotations

from collections.abc import Sequence

from bench.fleet.engine import Engine, SimRequest
from bench.fleet.exposition import RenderPlan, render, render_plan
from bench.fleet.template import Layout, vllm_032_layout
from bench.fleet.workload import FleetSpec, PodSpec, plan_pods


class Fleet:
    def __init__(self, spec: FleetSpec, layout: Layout | None = None, *, keep_finished: bool = False) -> None:
        self.spec = spec
        self.layout = layout or vllm_032_layout()
        self.pods: tuple[PodSpec, ...] = plan_pods(spec)
        self.engines = [Engine(pod, self.layout) for pod in self.pods]
        self._plans: list[RenderPlan] = [render_plan(self.layout, pod.model) for pod in self.pods]
        self.keep_finished = keep_finished
        self.finished: list[list[SimRequest]] = [[] for _ in self.pods]  # not yet drained, per pod

    def advance(self, pod: int, t: float) -> list[SimRequest]:
        done = self.engines[pod].advance(t)
        if self.keep_finished:
            self.finished[pod].extend(done)
        return done

    def advance_all(self, t: float) -> int:
        return sum(len(self.advance(i, t)) for i in range(len(self.pods)))

    def metrics(self, pod: int, t: float | None = None) -> str:
        """The pod's /metrics body at t (or where it already is)."""
        if t is not None:
            self.advance(pod, t)
        return render(self._plans[pod], self.engines[pod])

    def drain(self, pod: int) -> Sequence[SimRequest]:
        done, self.finished[pod] = self.finished[pod], []
        return done
