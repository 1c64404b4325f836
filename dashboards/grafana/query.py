"""Prometheus targets and the datasource reference every panel uses.

grafanalib's `Target` carries Graphite-era fields (`target`, `metric`, `step`, `query`) that
Grafana's Prometheus query model does not have, so targets are our own value objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATASOURCE_VARIABLE = "datasource"
# Every panel and target points at the datasource chosen in the dashboard's variable.
DATASOURCE_REF: dict[str, str] = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}


@dataclass(frozen=True)
class PromTarget:
    """One PromQL query of a panel. `instant` targets feed stat and table panels."""

    expr: str
    legend: str = ""
    ref_id: str = "A"
    instant: bool = False
    table: bool = False

    def to_json_data(self) -> dict[str, Any]:
        return {
            "datasource": dict(DATASOURCE_REF),
            "editorMode": "code",
            "expr": self.expr,
            "format": "table" if self.table else "time_series",
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": self.ref_id,
        }


def with_ref_ids(targets: tuple[PromTarget, ...]) -> tuple[PromTarget, ...]:
    """Give targets the refIds A, B, C... in order, as Grafana does."""
    if len(targets) > 26:
        raise ValueError(f"a panel holds at most 26 queries, got {len(targets)}")
    return tuple(
        PromTarget(t.expr, t.legend, chr(ord("A") + i), t.instant, t.table) for i, t in enumerate(targets)
    )
