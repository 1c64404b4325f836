"""Panel factories over grafanalib's panel classes.

Every panel gets a description (what it measures), a unit, the shared datasource and a text for
empty results (`no_value`), so a reader never meets an unexplained "No data" or NaN. Sizes are
given here; positions are assigned later by `layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grafanalib.core as gl

from dashboards.grafana.query import DATASOURCE_REF, PromTarget, with_ref_ids

Panel = Any  # a grafanalib panel object (grafanalib is untyped)

BASE_COLOR = "green"


@dataclass(frozen=True)
class Step:
    """A threshold step: from `value` upwards the value is drawn in `color`."""

    value: float
    color: str


def _thresholds(steps: Sequence[Step], base: str = BASE_COLOR) -> list[dict[str, Any]]:
    values = [s.value for s in steps]
    if values != sorted(values):
        raise ValueError(f"threshold steps must increase, got {values}")
    return [{"color": base, "value": None}] + [{"color": s.color, "value": s.value} for s in steps]


def nan_as(text: str) -> list[dict[str, Any]]:
    """A value mapping that shows `text` for NaN and null (0/0 from a source we do not control)."""
    return [{"options": {"match": "nan", "result": {"index": 0, "text": text}}, "type": "special"},
            {"options": {"match": "null", "result": {"index": 1, "text": text}}, "type": "special"}]


def _defaults(no_value: str, min_: float | None, max_: float | None, decimals: int | None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"noValue": no_value}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if decimals is not None:
        defaults["decimals"] = decimals
    return defaults


def _common(title: str, description: str, targets: Sequence[PromTarget], width: int, height: int) -> dict[str, Any]:
    if not description.strip():
        raise ValueError(f"panel {title!r}: every panel needs a description of what it measures")
    if not targets:
        raise ValueError(f"panel {title!r}: no queries")
    if not 1 <= width <= 24:
        raise ValueError(f"panel {title!r}: width {width} outside 1-24")
    return {
        "title": title,
        "description": description,
        "dataSource": dict(DATASOURCE_REF),
        "targets": list(with_ref_ids(tuple(targets))),
        "gridPos": gl.GridPos(h=height, w=width, x=0, y=0),
    }


def timeseries(
    title: str,
    description: str,
    targets: Sequence[PromTarget],
    *,
    unit: str,
    no_value: str = "no data",
    steps: Sequence[Step] = (),
    min_: float | None = None,
    max_: float | None = None,
    decimals: int | None = None,
    stacked: bool = False,
    bars: bool = False,
    mappings: Sequence[dict[str, Any]] = (),
    width: int = 8,
    height: int = 8,
) -> Panel:
    """A time series; thresholds, when given, are drawn as dashed lines (the objective or alert level)."""
    return gl.TimeSeries(
        **_common(title, description, targets, width, height),
        unit=unit,
        thresholds=_thresholds(steps),
        thresholdsStyleMode="dashed" if steps else "off",
        colorMode="palette-classic",
        drawStyle="bars" if bars else "line",
        fillOpacity=60 if bars or stacked else 10,
        stacking={"group": "A", "mode": "normal"} if stacked else {"group": "A", "mode": "none"},
        legendDisplayMode="table",
        legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi",
        tooltipSort="desc",
        mappings=list(mappings),
        extraJson={"fieldConfig": {"defaults": _defaults(no_value, min_, max_, decimals)}},
    )


def stat(
    title: str,
    description: str,
    targets: Sequence[PromTarget],
    *,
    unit: str,
    no_value: str = "no data",
    steps: Sequence[Step] = (),
    base_color: str = BASE_COLOR,
    min_: float | None = None,
    max_: float | None = None,
    decimals: int | None = None,
    mappings: Sequence[dict[str, Any]] = (),
    width: int = 4,
    height: int = 4,
) -> Panel:
    """A single value (the last one of the range), coloured by its thresholds."""
    return gl.Stat(
        **_common(title, description, targets, width, height),
        format=unit,
        noValue=no_value,
        decimals=decimals,
        color={"mode": "thresholds"},
        colorMode="value",
        graphMode="area",
        reduceCalc="lastNotNull",
        textMode="value_and_name" if len(targets) > 1 else "auto",
        thresholds=_thresholds(steps, base_color),
        mappings=list(mappings),
        extraJson={"fieldConfig": {"defaults": _defaults(no_value, min_, max_, None)}},
    )


def table(
    title: str,
    description: str,
    targets: Sequence[PromTarget],
    *,
    unit: str,
    no_value: str = "no data",
    steps: Sequence[Step] = (),
    width: int = 12,
    height: int = 8,
    decimals: int | None = None,
    mappings: Sequence[dict[str, Any]] = (),
) -> Panel:
    """A table of instant results, one row per series, with the label columns merged."""
    return gl.Table(
        **_common(title, description, targets, width, height),
        unit=unit,
        thresholds=_thresholds(steps),
        displayMode="color-text",
        filterable=True,
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {
                             f"Value #{t.ref_id}": t.legend for t in with_ref_ids(tuple(targets)) if t.legend}}}],
        extraJson={"fieldConfig": {"defaults": {**_defaults(no_value, None, None, decimals),
                                                "mappings": list(mappings)}}},
    )

