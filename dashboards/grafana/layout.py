"""Place panels on Grafana's 24-column grid, row by row, and number them.

Panels flow left to right and wrap when the next one does not fit; each section starts with a row
header. Positions and ids depend only on the order given, so the output is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import attr
import grafanalib.core as gl

Panel = Any

GRID_WIDTH = 24


@dataclass(frozen=True)
class Section:
    """A titled row of panels; `collapsed` rows hide their panels until opened (drill-downs)."""

    title: str
    panels: Sequence[Panel] = field(default_factory=tuple)
    collapsed: bool = False
    repeat: str | None = None


def _place(panels: Sequence[Panel], y: int, ids: list[int]) -> tuple[list[Panel], int]:
    placed: list[Panel] = []
    x, row_height = 0, 0
    for panel in panels:
        w, h = panel.gridPos.w, panel.gridPos.h
        if x + w > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        ids[0] += 1
        placed.append(attr.evolve(panel, id=ids[0], gridPos=gl.GridPos(h=h, w=w, x=x, y=y)))
        x += w
        row_height = max(row_height, h)
    return placed, y + row_height


def layout(sections: Sequence[Section]) -> list[Panel]:
    """The dashboard's top-level panel list: row headers with their panels, ids from 1."""
    out: list[Panel] = []
    ids = [0]
    y = 0
    for section in sections:
        if not section.panels:
            raise ValueError(f"row {section.title!r} has no panels")
        ids[0] += 1
        row_id, row_y = ids[0], y
        placed, y = _place(section.panels, y + 1, ids)
        repeat = gl.Repeat(variable=section.repeat, direction="h") if section.repeat else gl.Repeat()
        if section.collapsed:
            out.append(gl.RowPanel(title=section.title, id=row_id, gridPos=gl.GridPos(h=1, w=GRID_WIDTH, x=0, y=row_y),
                                   collapsed=True, panels=placed, repeat=repeat))
            y = row_y + 1
        else:
            out.append(gl.RowPanel(title=section.title, id=row_id, gridPos=gl.GridPos(h=1, w=GRID_WIDTH, x=0, y=row_y),
                                   collapsed=False, panels=[], repeat=repeat))
            out.extend(placed)
    return out
