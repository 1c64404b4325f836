"""The demo's story, start to end: bring the stack up, drive the phases, watch, report, tear down."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from llmslo_demo.compare import Check
from llmslo_demo.config import DemoConfig, Phase
from llmslo_demo.load import RequestRecord, run_load
from llmslo_demo.promapi import PromAPI, alertmanager_alerts
from llmslo_demo.report import SLO_NAME, Report, render_html, render_png, sli_checks
from llmslo_demo.stack import Stack, running_stack
from llmslo_demo.view import LiveView
from llmslo_demo.webhook import WebhookSink

PAGE_ALERT = "LLMSLODemoBurnPage"
RESOLVE_WAIT_S = 120.0
SETTLE_MAX_S = 30.0


@dataclass
class DemoResult:
    records: list[RequestRecord]
    phases: list[tuple[str, float, float]] = field(default_factory=list)  # name, unix start, unix end
    notifications: list[tuple[float, str, str, str]] = field(default_factory=list)
    report: Report | None = None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Ctrl-C and SIGTERM both unwind through the stack's cleanup."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_scraped(prom: PromAPI, stack: Stack, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.scalar('count(up == 1)') == 4.0:
            return
        time.sleep(1.0)
    raise RuntimeError(f"Prometheus does not see all 4 llmslo targets up; dead components: {stack.alive()}")


def _page_resolved(sink: WebhookSink, am_url: str) -> bool:
    firing = [a for a in alertmanager_alerts(am_url) if a.get("labels", {}).get("alertname") == PAGE_ALERT]
    resolved = any(n == PAGE_ALERT and st == "resolved" for _, n, _, st in sink.events())
    return not firing and resolved


def _settled_checks(prom: PromAPI, records: list[RequestRecord], cfg: DemoConfig) -> tuple[float, list[Check]]:
    """The report's checks once the last observations have reached Prometheus.

    The last spans leave vLLM on its exporter's timer and every source is scraped on its own
    interval, so the counts arrive a few seconds apart. Counts only grow, so waiting until they
    agree with the load generator's (or SETTLE_MAX_S has passed, and the mismatch is reported)
    loses nothing: a pipeline that drops data still fails."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while True:
        time.sleep(cfg.scrape_interval_s)
        at = time.time()
        checks = sli_checks(prom, records, at)
        if all(c.ok for c in checks) or time.monotonic() > deadline:
            return at, checks


def run_demo(cfg: DemoConfig, say: Callable[[str], None] = print) -> DemoResult:
    sink = WebhookSink().start()
    result = DemoResult(records=[])
    try:
        with _sigterm_as_interrupt(), running_stack(cfg, sink, say) as stack:
            prom = PromAPI(stack.endpoints.prometheus)
            try:
                _wait_scraped(prom, stack)
                say(f"Prometheus {stack.endpoints.prometheus}  Alertmanager {stack.endpoints.alertmanager}  "
                    f"proxy {stack.endpoints.proxy}")
                view = LiveView(cfg, prom, sink, stack.endpoints.alertmanager, enabled=cfg.live_view, say=say)

                def on_phase(phase: Phase) -> None:
                    now = time.time()
                    if result.phases:
                        name, start, _ = result.phases[-1]
                        result.phases[-1] = (name, start, now)
                    result.phases.append((phase.name, now, now + phase.seconds))
                    view.phase(phase)

                load_start = time.time()
                with view:
                    result.records = asyncio.run(_load_with_view(cfg, stack, view, on_phase))
                    name, start, _ = result.phases[-1]
                    result.phases[-1] = (name, start, time.time())
                    say("load finished; waiting for the page to resolve and the last scrapes")
                    deadline = time.monotonic() + RESOLVE_WAIT_S
                    while time.monotonic() < deadline and not _page_resolved(sink, stack.endpoints.alertmanager):
                        view.refresh()
                        time.sleep(2.0)
                at, checks = _settled_checks(prom, result.records, cfg)
                result.notifications = sink.events()
                png, page = cfg.out_dir / "slo-report.png", cfg.out_dir / "slo-report.html"
                render_png(prom, load_start, at, png, result.phases)
                render_html(page, png, checks, result.notifications, load_start)
                result.report = Report(tuple(checks), tuple(result.notifications), png, page)
            finally:
                prom.close()
    finally:
        sink.stop()
    return result


async def _load_with_view(cfg: DemoConfig, stack: Stack, view: LiveView,
                          on_phase: Callable[[Phase], None]) -> list[RequestRecord]:
    records_task = asyncio.create_task(run_load(cfg, stack.endpoints.proxy, on_phase))
    while not records_task.done():
        await asyncio.sleep(2.0)
        dead = stack.alive()
        if dead:
            records_task.cancel()
            raise RuntimeError(f"components died during the demo: {', '.join(dead)} (logs in {stack.log_dir})")
        await asyncio.to_thread(view.refresh)
    return records_task.result()


def summary_lines(result: DemoResult, cfg: DemoConfig) -> list[str]:
    lines = [f"{len(result.records)} requests; notifications: "
             + (", ".join(f"{n}/{s} {st}" for _, n, s, st in result.notifications) or "none")]
    if result.report is not None:
        lines += [f"  {'ok ' if c.ok else 'BAD'} {c.name}: pipeline {c.pipeline}, load generator {c.client}"
                  for c in result.report.checks]
        lines.append(f"report: {result.report.html}  chart: {result.report.png}")
    lines.append(f"generated rules, dashboards and collector config: {cfg.out_dir} (SLO {SLO_NAME})")
    return lines
