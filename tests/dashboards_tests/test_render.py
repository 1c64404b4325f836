"""The PNG renderer's pure parts, and a render against a real (empty) Prometheus: every panel drawn,
each showing its "no traffic" text rather than failing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.prometheus import start_prometheus

from dashboards.render.expand import expand, legend, variable_defaults
from dashboards.render.png import collect, flatten, render_png
from dashboards.render.prom import Prometheus, QueryError
from dashboards.render.units import fmt

from .support_boards import all_boards

BOARDS = {b["uid"]: b for b in all_boards()}


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0123, "s", "12.3 ms"), (2.5, "s", "2.5 s"), (0.00004, "s", "40 µs"), (0.987, "percentunit", "98.7 %"),
    (1048576.0, "bytes", "1 MiB"), (1010000.0, "bytes", "986 KiB"), (3.83, "suffix: tok/s", "3.83 tok/s"),
    (1530.0, "reqps", "1.53k req/s"), (40.979, "watt", "41 W"), (float("nan"), "s", "NaN"),
])
def test_units_read_like_grafanas(value: float, unit: str, text: str) -> None:
    assert fmt(value, unit) == text


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
       st.sampled_from(["s", "percentunit", "bytes", "reqps", "short", "joule", "suffix: tok/s"]))
def test_units_never_use_exponents(value: float, unit: str) -> None:
    text = fmt(value, unit)
    assert "e+" not in text and len(text) < 20


def test_expand_replaces_every_variable_and_refuses_unknown_ones() -> None:
    values = {"model": ".*", "pod": "p", "__rate_interval": "1m"}
    assert expand('x{a=~"$model", b="${pod}"}[$__rate_interval]', values) == 'x{a=~".*", b="p"}[1m]'
    with pytest.raises(KeyError, match=r"\$nope"):
        expand("x{a=\"$nope\"}", {})


def test_defaults_are_all_for_pickers_and_the_default_for_choices() -> None:
    values = variable_defaults(BOARDS["llmslo-tenants"], "30s")
    assert values == {"__rate_interval": "30s", "__interval": "30s", "__range": "30s", "datasource": "prometheus",
                      "namespace": ".*", "model": ".*", "topk": "10"}


def test_legend_formats() -> None:
    assert legend("{{model_name}} p90", {"model_name": "tiny"}) == "tiny p90"
    assert legend("__auto", {"b": "2", "a": "1"}) == '{a="1", b="2"}'


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_flatten_opens_collapsed_rows_without_overlap(uid: str) -> None:
    cells: set[tuple[int, int]] = set()
    for panel, y in flatten(BOARDS[uid]):
        pos = panel["gridPos"]
        mine = {(x, yy) for x in range(pos["x"], pos["x"] + pos["w"]) for yy in range(y, y + pos["h"])}
        assert not cells & mine, panel["title"]
        cells |= mine


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with start_prometheus(tmp_path_factory.mktemp("prom")) as server:
        prom = Prometheus(server.url)
        yield prom
        prom.close()


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_render_against_an_empty_prometheus(uid: str, empty_prometheus: Prometheus, tmp_path: Path) -> None:
    """Also proves every query parses in Prometheus itself (stricter than promql-parser in places)."""
    board = BOARDS[uid]
    drawn = render_png(board, empty_prometheus, variable_defaults(board, "1m"), tmp_path / "x.png",
                       start=time.time() - 300, end=time.time(), step=15, subtitle="empty")
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"
    panels = [d for d in drawn if d.panel["type"] != "row"]
    assert len(panels) == len([p for p, _ in flatten(board) if p["type"] != "row"])
    assert [d.error for d in panels if d.error] == []
    assert all(not d.series for d in panels if "vector(0)" not in str(d.panel["targets"]))


def test_a_bad_query_is_a_located_error(empty_prometheus: Prometheus) -> None:
    with pytest.raises(QueryError, match=r"'sum\(': bad_data: .*parse error"):
        empty_prometheus.query("sum(", time.time())


@given(st.floats(min_value=0.0, max_value=600.0), st.sampled_from([1.0, 2.0, 15.0]))
def test_the_last_point_of_a_range_is_the_end_itself(empty_prometheus: Prometheus, span: float, step: float) -> None:
    """A series born in the final step must still be drawn (CI once lost one that way)."""
    end = 1_795_457_881.1799188  # an instant with a fraction, as the tests' evaluation times have
    board = {"panels": [{"type": "timeseries", "title": "t", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
                         "targets": [{"refId": "A", "expr": "time()"}]}]}
    (drawn,) = collect(board, empty_prometheus, {}, end - span, end, step)
    ((_, series),) = drawn.series
    (at_end,) = empty_prometheus.query("time()", end)  # what a stat panel shows at `end`
    assert series.points[-1] == at_end.points[0]
    assert series.points[0][0] >= end - span - 0.001
