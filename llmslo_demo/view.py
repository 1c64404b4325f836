"""The live terminal view (rich): phase, SLIs, error budget, burn rates and alerts, every 2 s.

Without a terminal (CI, the e2e test) it prints one plain line per refresh instead of redrawing.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from llmslo_demo.config import DemoConfig, Phase
from llmslo_demo.promapi import PromAPI, alertmanager_alerts
from llmslo_demo.webhook import WebhookSink
from slo.catalog import get

SLO = "demo-ttft"


def _fmt(value: float, unit: str = "") -> str:
    return "no traffic" if math.isnan(value) else f"{value:.3g}{unit}"


def _budget(remaining: float) -> str:
    if math.isnan(remaining):
        return "no traffic"
    if remaining < 0:
        return f"overspent: {1 - remaining:.1f}x the budget used"
    return f"{100 * remaining:.1f} %"


class LiveView:
    def __init__(self, cfg: DemoConfig, prom: PromAPI, sink: WebhookSink, am_url: str, *, enabled: bool,
                 say: Callable[[str], None] = print) -> None:
        self.cfg, self.prom, self.sink, self.am_url, self.say = cfg, prom, sink, am_url, say
        self.enabled = enabled and sys.stdout.isatty()
        self.current = "starting"
        self.phase_started = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.enabled:
            self._live = Live(self._table(), console=Console(), refresh_per_second=1, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def phase(self, phase: Phase) -> None:
        self.current = f"{phase.name} ({phase.concurrency} concurrent clients, {phase.seconds:.0f} s)"
        self.phase_started = time.monotonic()
        if not self.enabled:
            self.say(f"phase {self.current}")

    def _rows(self) -> list[tuple[str, str]]:
        ttft = get("proxy_ttft").prom_name
        q = self.prom.scalar
        rows = [
            ("phase", f"{self.current}, {time.monotonic() - self.phase_started:.0f} s in"),
            ("requests/s", _fmt(q(f"sum(rate({get('proxy_requests').prom_name}[20s]))"))),
            ("output tokens/s", _fmt(q(f"sum(rate({get('proxy_output_tokens').prom_name}[20s]))"))),
            ("TTFT p50 / p99 (client view, 20s)",
             " / ".join(_fmt(q(f"histogram_quantile({p}, sum by (le) (rate({ttft}_bucket[20s])))"), " s")
                        for p in (0.5, 0.99))),
            ("SLI 1m (good / all, target 99%)", _fmt(100 * (1 - q(f'llmslo_slo:error:ratio_rate1m{{slo="{SLO}"}}')),
                                                     " %")),
            ("burn rate 10s / 1m (page at 10x)",
             " / ".join(_fmt(q(f'llmslo_slo:error:ratio_rate{w}{{slo="{SLO}"}}') / 0.01, "x") for w in ("10s", "1m"))),
            ("error budget remaining (1h window)",
             _budget(q(f'llmslo_slo:error_budget_remaining:ratio{{slo="{SLO}"}}'))),
        ]
        try:
            firing = sorted({f"{a['labels'].get('alertname')}({a['labels'].get('severity', '')})"
                             for a in alertmanager_alerts(self.am_url)})
        except Exception as exc:  # the view must never stop the demo
            firing = [f"(Alertmanager unreachable: {exc})"]
        rows.append(("alerts in Alertmanager", ", ".join(firing) or "none"))
        rows.append(("notifications received", str(len(self.sink.events()))))
        return rows

    def _table(self) -> Table:
        table = Table(title="llmslo demo: SLO demo-ttft (99% of first tokens within 1 s)", show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        for name, value in self._safe_rows():
            table.add_row(name, value)
        return table

    def _safe_rows(self) -> list[tuple[str, str]]:
        try:
            return self._rows()
        except Exception as exc:  # Prometheus busy or restarting: show it, keep going
            return [("phase", self.current), ("error", f"cannot query Prometheus: {exc}")]

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
        else:
            self.say(" | ".join(f"{k}: {v}" for k, v in self._safe_rows()[1:]))
