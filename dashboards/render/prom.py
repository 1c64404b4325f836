"""The two Prometheus HTTP API calls the renderer and the e2e test need, with located errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class QueryError(RuntimeError):
    """Prometheus refused a query or could not be reached; the message carries the expression."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value)


class Prometheus:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = self._client.get(self.url + path, params=params)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise QueryError(f"{self.url}{path} {params.get('query', '')!r}: {exc}") from exc
        if body.get("status") != "success":
            raise QueryError(f"{params.get('query', '')!r}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self._get("/api/v1/query_range",
                         {"query": expr, "start": repr(start), "end": repr(end), "step": repr(step)})
        return [Series(dict(s["metric"]), tuple((float(t), float(v)) for t, v in s["values"]))
                for s in data["result"]]

    def query(self, expr: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": expr, "time": repr(at)})
        if data["resultType"] == "scalar":
            t, v = data["result"]
            return [Series({}, ((float(t), float(v)),))]
        return [Series(dict(s["metric"]), ((float(s["value"][0]), float(s["value"][1])),)) for s in data["result"]]
