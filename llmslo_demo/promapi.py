"""The few Prometheus and Alertmanager HTTP API calls the demo's view and report need."""

from __future__ import annotations

import math
from typing import Any

import httpx

Series = tuple[dict[str, str], list[tuple[float, float]]]


class PromAPI:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = httpx.Client(base_url=url, timeout=15.0)

    def close(self) -> None:
        self._client.close()

    def _data(self, path: str, params: dict[str, str]) -> Any:
        body = self._client.get(path, params=params).json()
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('error')}")
        return body["data"]

    def vector(self, expr: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        data = self._data("/api/v1/query", params)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def scalar(self, expr: str, at: float | None = None) -> float:
        """The single value of ``expr``, NaN when it has none (no traffic yet)."""
        result = self.vector(expr, at)
        return result[0][1] if len(result) == 1 else math.nan

    def matrix(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._data("/api/v1/query_range",
                          {"query": expr, "start": repr(start), "end": repr(end), "step": repr(step)})
        return [(s["metric"], [(float(t), float(v)) for t, v in s["values"]]) for s in data["result"]]

    def firing_alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self._data("/api/v1/alerts", {})["alerts"]
        return alerts


def alertmanager_alerts(url: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds now (API v2), active ones only."""
    response = httpx.get(f"{url}/api/v2/alerts", params={"active": "true"}, timeout=10.0)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts
