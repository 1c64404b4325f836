"""One request's measurements, from the proxy's clock: the catalog's proxy SLIs, per exchange.

Timestamps are passed in (monotonic seconds), so this is pure bookkeeping and testable without a
network. TTFT and inter-chunk gaps are observed when the chunk is sent (a long stream shows up
while it runs); e2e, TPOT, tokens and the outcome when the exchange ends.
"""

from __future__ import annotations

from enum import StrEnum

from exporters.proxy.openai import Usage
from exporters.proxy.recorder import HistogramChild, Recorder

UNKNOWN_MODEL = "unknown"
OTHER_MODEL = "other"


class Outcome(StrEnum):
    SUCCESS = "success"
    ENGINE_ERROR = "engine_error"
    MIDSTREAM_FAILURE = "midstream_failure"
    CLIENT_CANCEL = "client_cancel"
    REJECTED = "rejected"


class ModelNames:
    """Model labels are only names the engine has answered as (bounded); a requested name is user
    input until then."""

    def __init__(self, limit: int = 64) -> None:
        self.known: set[str] = set()
        self.limit = limit

    def confirm(self, name: str) -> str:
        if name in self.known:
            return name
        if len(self.known) < self.limit:
            self.known.add(name)
            return name
        return OTHER_MODEL

    def requested(self, name: str) -> str:
        return name if name in self.known else UNKNOWN_MODEL


class Exchange:
    __slots__ = (
        "_itl", "first_at", "last_at", "model", "models", "recorder", "request_id", "route", "start",
        "stream", "tenant", "usage",
    )  # fmt: skip

    def __init__(
        self, recorder: Recorder, models: ModelNames, *, route: str, tenant: str, request_id: str, start: float
    ) -> None:
        self.recorder = recorder
        self.models = models
        self.route = route
        self.tenant = tenant
        self.request_id = request_id
        self.start = start
        self.model = UNKNOWN_MODEL
        self.stream = False
        self.first_at: float | None = None
        self.last_at = 0.0
        self.usage: Usage | None = None
        self._itl: HistogramChild | None = None

    def requested(self, name: str) -> None:
        self.model = self.models.requested(name)

    def answered_as(self, name: str) -> None:
        self.model = self.models.confirm(name)

    def _values(self, names: tuple[str, ...], outcome: str = "") -> tuple[str, ...]:
        table = {"model_name": self.model, "route": self.route, "tenant": self.tenant, "outcome": outcome}
        return tuple(table[n] for n in names)

    def content_sent(self, chunks: int, now: float) -> None:
        """`chunks` content-carrying events just went out together (gaps after the first are 0)."""
        if chunks <= 0:
            return
        if self.first_at is None:
            self.first_at = now
            self.last_at = now
            ttft = self.recorder.ttft
            ttft.child(self._values(ttft.label_names)).observe(now - self.start, self.request_id)
            chunks -= 1
            if chunks == 0:
                return
        itl = self._itl
        if itl is None:
            itl = self._itl = self.recorder.itl.child(self._values(self.recorder.itl.label_names))
        itl.observe(now - self.last_at)
        for _ in range(chunks - 1):
            itl.observe(0.0)
        self.last_at = now

    def finish(self, outcome: Outcome, now: float) -> None:
        r = self.recorder
        e2e = now - self.start
        r.e2e.child(self._values(r.e2e.label_names, outcome)).observe(e2e, self.request_id)
        r.requests.inc(self._values(r.requests.label_names, outcome), 1.0, self.request_id)
        usage = self.usage
        if usage is None:
            return
        r.input_tokens.inc(self._values(r.input_tokens.label_names), float(usage.input_tokens))
        r.output_tokens.inc(self._values(r.output_tokens.label_names), float(usage.output_tokens))
        if outcome is Outcome.SUCCESS and self.stream and self.first_at is not None and usage.output_tokens >= 2:
            tpot = (now - self.first_at) / (usage.output_tokens - 1)
            r.tpot.child(self._values(r.tpot.label_names)).observe(tpot, self.request_id)
