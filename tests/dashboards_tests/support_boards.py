"""What the dashboard tests share: every generated dashboard (with the SLO dashboard of the
example specs once they exist) and every query in it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from dashboards.generate import boards
from dashboards.llm.slo import build_from_paths
from dashboards.render.png import flatten

SLO_SPEC = Path(__file__).parent / "data" / "slos.yaml"


@cache
def _boards() -> tuple[dict[str, Any], ...]:
    return tuple(boards(build_from_paths([SLO_SPEC])))


def all_boards() -> list[dict[str, Any]]:
    """Fresh copies of every dashboard, the SLO dashboard of tests/dashboards_tests/data/slos.yaml included."""
    import copy

    return [copy.deepcopy(b) for b in _boards()]


def queries(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query of a dashboard, collapsed rows included."""
    for panel, _ in flatten(board):
        for target in panel.get("targets", []):
            yield panel, target
