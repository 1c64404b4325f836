"""The generated dashboards fit Grafana's dashboard model (grafana-foundation-sdk types), and the
validator finds what it claims to find."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dashboards.grafana.validate import validate

from .support_boards import all_boards

BOARDS = {b["uid"]: b for b in all_boards()}


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_generated_dashboard_fits_grafanas_model(uid: str) -> None:
    assert validate(BOARDS[uid]) == []


def _first_panel(board: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in board["panels"] if p["type"] != "row")


Mutation = Callable[[dict[str, Any]], None]
BROKEN: list[tuple[str, Mutation, str]] = [
    ("unknown field", lambda b: _first_panel(b)["fieldConfig"]["defaults"].update(unitt="s"),
     "fieldConfig.defaults.unitt: not a field"),
    ("bad enum", lambda b: _first_panel(b)["fieldConfig"]["defaults"]["thresholds"].update(mode="bogus"),
     "thresholds.mode: 'bogus' is not a valid"),
    ("bad dashboard enum", lambda b: b.update(graphTooltip=7), "graph_tooltip: 7"),
    ("undefined variable", lambda b: _first_panel(b)["targets"][0].update(expr="up{pod=~\"$podd\"}"),
     "$podd is not a variable"),
    ("duplicate id", lambda b: _first_panel(b).update(id=b["panels"][0]["id"]), "already used"),
    ("outside the grid", lambda b: _first_panel(b)["gridPos"].update(x=20, w=8), "outside the 24-column grid"),
    ("overlap", lambda b: _first_panel(b)["gridPos"].update(y=b["panels"][2]["gridPos"]["y"],
                                                           x=b["panels"][2]["gridPos"]["x"]), "overlaps"),
    ("no description", lambda b: _first_panel(b).pop("description"), "description: missing"),
    ("duplicate refId", lambda b: _first_panel(b)["targets"].append(dict(_first_panel(b)["targets"][0])),
     "duplicate refId"),
    ("not a dashboard", lambda b: b.update(panels=[{"type": "stat", "targets": 5}]), "not a Grafana dashboard"),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=n) for n, m, e in BROKEN])
def test_validator_reports_each_defect_with_its_location(mutate: Mutation, expected: str) -> None:
    board = copy.deepcopy(BOARDS["llmslo-serving"])
    mutate(board)
    problems = validate(board)
    assert any(expected in p for p in problems), problems
