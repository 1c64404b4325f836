"""Query every panel of a dashboard and draw it where its gridPos puts it."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dashboards.render.expand import expand, legend
from dashboards.render.prom import Prometheus, QueryError, Series
from dashboards.render.units import fmt

GRID_COLUMNS = 24
INCH_PER_COLUMN = 0.9
INCH_PER_ROW = 0.42
BACKGROUND = "#111217"
PANEL = "#181b1f"
TEXT = "#d8d9da"
MUTED = "#8e8e8e"


@dataclass(frozen=True)
class Drawn:
    """A panel with its flattened position and the series each of its queries returned."""

    panel: dict[str, Any]
    x: int
    y: int
    w: int
    h: int
    series: tuple[tuple[str, Series], ...] = ()
    error: str = ""


def flatten(board: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """Every panel with its y, collapsed rows opened in place (so the preview shows drill-downs too)."""
    out: list[tuple[dict[str, Any], int]] = []
    offset = 0
    for panel in board.get("panels", []):
        y = panel["gridPos"]["y"] + offset
        out.append((panel, y))
        inner = panel.get("panels", []) if panel.get("collapsed") else []
        if inner:
            top = min(p["gridPos"]["y"] for p in inner)
            for p in inner:
                out.append((p, p["gridPos"]["y"] - top + y + 1))
            offset += max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in inner) - top
    return out


def collect(board: Mapping[str, Any], prom: Prometheus, values: Mapping[str, str], start: float, end: float,
            step: float) -> list[Drawn]:
    """Range queries step back from ``end``, so the last point of every panel is the instant ``end``
    itself: a series that first appears in the final step is drawn, as an instant query at ``end``
    (what the panel's stat shows) would find it."""
    start = end - math.floor((end - start) / step) * step
    drawn: list[Drawn] = []
    for panel, y in flatten(board):
        pos = panel["gridPos"]
        found: list[tuple[str, Series]] = []
        error = ""
        for target in panel.get("targets", []):
            try:
                expr = expand(target["expr"], values)
                result = prom.query(expr, end) if target.get("instant") else \
                    prom.query_range(expr, start, end, step)
            except (QueryError, KeyError) as exc:
                error = str(exc)
                continue
            found.extend((legend(target.get("legendFormat", ""), s.labels), s) for s in result)
        drawn.append(Drawn(panel, pos["x"], y, pos["w"], pos["h"], tuple(found), error))
    return drawn


def _unit(panel: Mapping[str, Any]) -> str:
    return str(panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short"))


def _no_value(panel: Mapping[str, Any]) -> str:
    return str(panel.get("fieldConfig", {}).get("defaults", {}).get("noValue", "No data"))


def _clock(t: float, _: object) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def _timeseries(ax: Axes, d: Drawn, start: float, end: float) -> None:
    unit = _unit(d.panel)
    for name, s in d.series:
        if s.points:
            ax.plot([t for t, _ in s.points], [v for _, v in s.points], label=name[:48], linewidth=1.2)
    for step in d.panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])[1:]:
        if d.panel["fieldConfig"]["defaults"].get("custom", {}).get("thresholdsStyle", {}).get("mode") != "off":
            ax.axhline(step["value"], color=step["color"], linestyle="--", linewidth=0.8)
    ax.set_xlim(start, end)
    ax.tick_params(colors=MUTED, labelsize=6)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v, unit)))
    ax.xaxis.set_major_formatter(FuncFormatter(_clock))
    ax.set_xlabel("UTC", color=MUTED, fontsize=6)
    if d.series:
        ax.legend(fontsize=5, loc="upper left", frameon=False, labelcolor=TEXT, ncol=2)


def _stat(ax: Axes, d: Drawn) -> None:
    unit = _unit(d.panel)
    lines = [(name, s.points[-1][1]) for name, s in d.series if s.points]
    ax.set_axis_off()
    for i, (name, value) in enumerate(lines[:4]):
        yy = 0.55 - i * 0.3 if len(lines) > 1 else 0.45
        ax.text(0.5, yy, fmt(value, unit), ha="center", va="center", fontsize=16 if len(lines) == 1 else 10,
                color="#73bf69", transform=ax.transAxes)
        ax.text(0.5, yy - 0.16, name[:40], ha="center", va="center", fontsize=6, color=MUTED, transform=ax.transAxes)


def _table(ax: Axes, d: Drawn) -> None:
    ax.set_axis_off()
    unit = _unit(d.panel)
    rows = [f"{' '.join(s.labels.values())[:40]:<40} {name[:24]:<24} {fmt(s.points[-1][1], unit)}"
            for name, s in d.series if s.points][:12]
    ax.text(0.01, 0.95, "\n".join(rows), va="top", ha="left", family="monospace", fontsize=6, color=TEXT,
            transform=ax.transAxes)


def draw(drawn: list[Drawn], title: str, subtitle: str, start: float, end: float) -> Figure:
    height = max((d.y + d.h for d in drawn), default=1) + 2
    fig = Figure(figsize=(GRID_COLUMNS * INCH_PER_COLUMN, height * INCH_PER_ROW), facecolor=BACKGROUND)
    fig.text(0.01, 1 - 0.6 / height, title, color=TEXT, fontsize=14, weight="bold")
    fig.text(0.01, 1 - 1.3 / height, subtitle, color=MUTED, fontsize=7)
    for d in drawn:
        left, width = d.x / GRID_COLUMNS, d.w / GRID_COLUMNS
        bottom = 1 - (d.y + 2 + d.h) / height
        if d.panel.get("type") == "row":
            fig.text(left + 0.005, bottom + 0.3 / height, d.panel.get("title", ""), color=TEXT, fontsize=10,
                     weight="bold")
            continue
        frame = fig.add_axes((left + 0.003, bottom + 0.15 / height, width - 0.006, (d.h - 0.75) / height))
        frame.set_facecolor(PANEL)
        frame.set_xticks([])
        frame.set_yticks([])
        frame.set_title(d.panel.get("title", ""), color=TEXT, fontsize=8, loc="left")
        ax = frame.inset_axes((0.08, 0.12, 0.9, 0.78)) if d.panel.get("type") == "timeseries" else frame
        ax.set_facecolor(PANEL)
        if not d.series:
            ax.set_axis_off()
            ax.text(0.5, 0.5, d.error[:80] if d.error else _no_value(d.panel), ha="center", va="center",
                    color="#f2495c" if d.error else MUTED, fontsize=8, transform=ax.transAxes)
        elif d.panel.get("type") == "timeseries":
            _timeseries(ax, d, start, end)
        elif d.panel.get("type") == "stat":
            _stat(ax, d)
        else:
            _table(ax, d)
    return fig


def render_png(board: Mapping[str, Any], prom: Prometheus, values: Mapping[str, str], out: Path, *,
               start: float, end: float, step: float, subtitle: str) -> list[Drawn]:
    """Query, draw and save; returns what was drawn so a caller can report empty panels."""
    drawn = collect(board, prom, values, start, end, step)
    fig = draw(drawn, str(board.get("title", "")), subtitle, start, end)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, facecolor=BACKGROUND, metadata={"Software": None})
    return drawn
