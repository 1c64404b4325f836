"""The SLO report at the end of the demo: charts from Prometheus (PNG), an HTML page, and the checks of
the pipeline's SLIs against the load generator's own measurements."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from llmslo_demo.compare import Check, ClientTTFT, count_check, distribution_check, quantile_check
from llmslo_demo.load import RequestRecord
from llmslo_demo.promapi import PromAPI
from slo.catalog import get

SLO_NAME = "demo-ttft"
THRESHOLD_S = 1.0  # llmslo_demo/data/demo-slos.yaml


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    alert_events: tuple[tuple[float, str, str, str], ...]
    png: Path
    html: Path

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _total(prom: PromAPI, expr: str, at: float) -> float:
    value = prom.scalar(f"sum({expr})", at)
    return 0.0 if math.isnan(value) else value


def sli_checks(prom: PromAPI, records: Sequence[RequestRecord], at: float) -> list[Check]:
    """Every number the report states, against the client's; ``at`` is after the last request ended."""
    ttft = get("proxy_ttft").prom_name
    buckets = {float(m["le"]): v for m, v in prom.vector(f"sum by (le) ({ttft}_bucket)", at)}
    client_ttft = [ClientTTFT(r.ttft_s, r.stalled_s) for r in records if r.ttft_s is not None]
    done = [r for r in records if r.ok]
    out_tokens = sum(r.completion_tokens for r in done)
    in_tokens = sum(r.prompt_tokens for r in done)
    engine_out = get("output_tokens").prom_name
    checks = [
        count_check("requests (proxy)", _total(prom, get("proxy_requests").prom_name, at), len(records)),
        count_check("TTFT observations (proxy)", buckets.get(math.inf, 0.0), len(client_ttft)),
        count_check("output tokens (proxy)", _total(prom, get("proxy_output_tokens").prom_name, at), out_tokens),
        count_check("input tokens (proxy)", _total(prom, get("proxy_input_tokens").prom_name, at), in_tokens),
        count_check("output tokens (engine, vLLM sidecar)",
                    _total(prom, f'{engine_out}{{job="llmslo-vllm"}}', at), out_tokens),
        count_check("output tokens (engine, collector from spans)",
                    _total(prom, f'{engine_out}{{job="llmslo-collector"}}', at), out_tokens),
    ]
    if client_ttft:
        checks.append(distribution_check("TTFT distribution (proxy histogram)", buckets, client_ttft))
        checks += [quantile_check(f"TTFT p{int(q * 100)} (proxy histogram)", buckets, client_ttft, q)
                   for q in (0.5, 0.99)]
    return checks


def _series(prom: PromAPI, expr: str, start: float, end: float,
            step: float) -> list[tuple[str, list[float], list[float]]]:
    out = []
    for metric, points in prom.matrix(expr, start, end, step):
        label = ",".join(f"{k}={v}" for k, v in sorted(metric.items()) if k not in ("slo", "team"))
        out.append((label, [t - start for t, _ in points], [v for _, v in points]))
    return out


def render_png(prom: PromAPI, start: float, end: float, path: Path,
               phases: Sequence[tuple[str, float, float]]) -> None:
    step = max(2.0, (end - start) / 300)
    ttft = get("proxy_ttft").prom_name
    panels = [
        ("TTFT, client view (s)", [
            (f"p{q}", f"histogram_quantile(0.{q}, sum by (le) (rate({ttft}_bucket[20s])))") for q in (50, 99)]),
        ("requests/s by outcome", [
            ("", f"sum by (outcome) (rate({get('proxy_requests').prom_name}[20s]))")]),
        ("burn rate (x budget)", [
            (w, f'llmslo_slo:error:ratio_rate{w}{{slo="{SLO_NAME}"}} / 0.01') for w in ("10s", "1m")]),
        ("error budget remaining over the 1h SLO window (1 = untouched, < 0 = overspent)", [
            ("", f'llmslo_slo:error_budget_remaining:ratio{{slo="{SLO_NAME}"}}')]),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), sharex=True)
    for ax, (title, queries) in zip(axes, panels, strict=True):
        for name, expr in queries:
            for label, xs, ys in _series(prom, expr, start, end, step):
                ax.plot(xs, ys, label=f"{name} {label}".strip())
        for phase, p0, p1 in phases:
            ax.axvspan(p0 - start, p1 - start, alpha=0.08 if phase != "overload" else 0.18,
                       color="red" if phase == "overload" else "grey")
        ax.set_title(title, fontsize=10, loc="left")
        if any(line.get_label() and not line.get_label().startswith("_") for line in ax.lines):
            ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    axes[0].axhline(THRESHOLD_S, color="red", linestyle="--", linewidth=0.8)
    axes[-1].set_xlabel("seconds since the load started (shaded: overload)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_html(path: Path, png: Path, checks: Sequence[Check],
                alert_events: Sequence[tuple[float, str, str, str]], start: float) -> None:
    image = base64.b64encode(png.read_bytes()).decode()
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(c.pipeline)}</td><td>{html.escape(c.client)}</td>"
        f"<td>{'ok' if c.ok else 'MISMATCH'}</td></tr>" for c in checks)
    alerts = "".join(
        f"<tr><td>+{t - start:.0f} s</td><td>{html.escape(n)}</td><td>{html.escape(s)}</td>"
        f"<td>{html.escape(st)}</td></tr>"
        for t, n, s, st in alert_events)
    buf = io.StringIO()
    buf.write("<!doctype html><meta charset=utf-8><title>llmslo demo: SLO report</title>"
              "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
              "td,th{padding:.2em .8em;border-bottom:1px solid #ddd}</style>"
              "<h1>llmslo demo: SLO report</h1>"
              f"<p>SLO <code>{SLO_NAME}</code>: 99% of requests get their first token within 1 s (client view).</p>"
              f"<img alt='SLIs over the demo' src='data:image/png;base64,{image}'>"
              "<h2>Pipeline SLIs vs the load generator's own measurements</h2>"
              "<table><tr><th>SLI</th><th>pipeline</th><th>load generator</th><th></th></tr>"
              f"{rows}</table><h2>Notifications Alertmanager sent</h2>"
              "<table><tr><th>when</th><th>alert</th><th>severity</th><th>status</th></tr>"
              f"{alerts}</table>")
    path.write_text(buf.getvalue(), encoding="utf-8")
