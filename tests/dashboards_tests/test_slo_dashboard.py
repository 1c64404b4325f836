"""The SLO dashboard follows the specs: a row per SLO, tiles at the threshold's bucket boundaries,
burn-rate lines at the scaled alert factors, every query on that SLO's recording rules."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.llm.slo import build
from slo.rules import conventions as cv
from slo.spec import load_specs, parse_spec_text

from .support_boards import SLO_SPEC

SLOS = load_specs([SLO_SPEC])
BOARD = build(SLOS)


def rows(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = panel["title"].split(":")[0]
            out[current] = []
        else:
            out[current].append(panel)
    return out


def test_one_row_per_slo_sorted_by_name() -> None:
    assert list(rows(BOARD)) == sorted(s.name for s in SLOS)


@pytest.mark.parametrize("name", sorted(s.name for s in SLOS))
def test_every_query_of_a_row_reads_its_own_slo(name: str) -> None:
    for panel in rows(BOARD)[name]:
        for target in panel["targets"]:
            expr = target["expr"]
            assert f'slo="{name}"' in expr or "_bucket" in expr, (panel["title"], expr)


def test_latency_attainment_tiles_sit_on_the_threshold_and_its_neighbour_boundaries() -> None:
    (tiles,) = [p for p in rows(BOARD)["ttft-per-model"] if p["title"] == "Attainment"]
    assert [t["legendFormat"] for t in tiles["targets"]] == [
        "{{model_name}} <= 0.25 s", "{{model_name}} <= 0.5 s (SLO)", "{{model_name}} <= 0.75 s"]
    assert 'le="0.5"' in tiles["targets"][1]["expr"]
    assert tiles["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {"color": "green", "value": 0.99}


def test_burn_rate_lines_are_the_alert_factors_scaled_to_the_window() -> None:
    (burn,) = [p for p in rows(BOARD)["ttft-per-model"] if p["title"] == "Burn rate per window"]
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]
    # SRE workbook table for 30d (1, 3, 6, 14.4) scaled to the SLO's 28d window.
    assert [(s["value"], s["color"]) for s in steps] == [
        (pytest.approx(14 / 15), "orange"), (pytest.approx(2.8), "orange"), (pytest.approx(5.6), "red"),
        (pytest.approx(13.44), "red")]
    windows = {t["legendFormat"].split()[-1] for t in burn["targets"]}
    assert windows == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert all(t["expr"].endswith(" / 0.01") for t in burn["targets"])
    assert cv.error_ratio(3600) in burn["targets"][2]["expr"]


def test_variables_follow_the_grouping_labels() -> None:
    names = [v["name"] for v in BOARD["templating"]["list"]]
    assert names == ["datasource", "model", "tenant"]
    only_model = build(parse_spec_text("apiVersion: llmslo/v1\nslos:\n  - name: a\n    sli: {kind: availability, "
                                       "source: engine}\n    objective: 99\n", "x.yaml")[0])
    assert [v["name"] for v in only_model["templating"]["list"]] == ["datasource"]


def test_no_slos_is_an_error() -> None:
    with pytest.raises(ValueError, match="no SLOs"):
        build([])
