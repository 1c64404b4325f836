"""The SLO spec (`apiVersion: llmslo/v1`) as frozen pydantic models.

One file holds many SLOs. Each SLO picks an SLI kind over the catalog, an objective (percent), a
rolling window, optional per-model / per-tenant grouping (`by`), static label filters (`match`), a
minimum traffic below which burn alerts stay quiet, and alert tiers. OpenSLO v1 input is
translated into these same models (slo.spec.openslo).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slo.catalog import BY_KEY, Instrument
from slo.spec.durations import parse_duration
from slo.spec.threshold import check_threshold

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ALERT_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*/\s*(s|m|h|d)\s*$")
_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# SLIs a latency SLO may use (request-weighted) and a token_latency SLO may use (one observation per
# output chunk, i.e. token-weighted).
REQUEST_LATENCY_SLIS = ("ttft", "tpot", "e2e", "queue", "prefill", "decode", "inference",
                        "proxy_ttft", "proxy_tpot", "proxy_e2e")
TOKEN_LATENCY_SLIS = ("itl", "proxy_itl")
GOODPUT_TARGETS = ("ttft", "tpot", "e2e", "itl", "queue")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_labels(value: dict[str, str], what: str) -> dict[str, str]:
    for key in value:
        if not LABEL_RE.match(key):
            raise ValueError(f"{what} name {key!r} is not a valid Prometheus label name")
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


class TierAlert(_Frozen):
    """One alert tier (page or ticket): can be disabled, adds its own labels and annotations."""

    enabled: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _labels = field_validator("labels")(lambda v: _check_labels(v, "label"))


class BurnWindow(_Frozen):
    """One multi-window pair: alert when both the long and the short window burn at >= factor.

    `factor` is stated for the table's `reference_window` and scaled to the SLO's window, so the
    pair always spends the same fraction of the budget (workbook table 5-8 is for 30 days).
    """

    severity: Literal["page", "ticket"]
    long: str
    short: str
    factor: float = Field(gt=0)

    _dur = field_validator("long", "short")(lambda v: _check_duration(v))

    @model_validator(mode="after")
    def _short_shorter(self) -> BurnWindow:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long window {self.long}")
        return self


class NoDataAlert(_Frozen):
    """Fires when the SLI's series are absent (exporter gone, metric renamed), not on zero traffic."""

    enabled: bool = True
    name: str = "LLMSLONoData"
    for_: str = Field(default="10m", alias="for")
    severity: Literal["page", "ticket"] = "ticket"
    labels: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _dur = field_validator("for_")(lambda v: _check_duration(v))


class Alerting(_Frozen):
    """Alert tiers. `name` is the alert-name prefix: `<name>Page` and `<name>Ticket`."""

    name: str = "LLMSLOBudgetBurn"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None
    page: TierAlert = Field(default_factory=TierAlert)
    ticket: TierAlert = Field(default_factory=TierAlert)
    no_data: NoDataAlert = Field(default_factory=NoDataAlert)
    windows: tuple[BurnWindow, ...] | None = None
    reference_window: str = "30d"

    _labels = field_validator("labels")(lambda v: _check_labels(v, "label"))
    _ref = field_validator("reference_window")(lambda v: _check_duration(v))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not ALERT_NAME_RE.match(v):
            raise ValueError(f"alert name {v!r} must match {ALERT_NAME_RE.pattern}")
        return v


class LatencySLI(_Frozen):
    """Fraction of requests whose latency SLI is at or under `threshold` (seconds)."""

    kind: Literal["latency"]
    metric: str = "ttft"
    threshold: float

    @model_validator(mode="after")
    def _valid(self) -> LatencySLI:
        _check_histogram(self.metric, self.threshold, REQUEST_LATENCY_SLIS, "latency")
        return self


class TokenLatencySLI(_Frozen):
    """Fraction of output tokens (streamed chunks) delivered within `threshold` of the previous one."""

    kind: Literal["token_latency"]
    metric: str = "itl"
    threshold: float

    @model_validator(mode="after")
    def _valid(self) -> TokenLatencySLI:
        _check_histogram(self.metric, self.threshold, TOKEN_LATENCY_SLIS, "token_latency")
        return self


class AvailabilitySLI(_Frozen):
    """Share of requests that did not fail because of the server.

    proxy (default): failures are engine_error and midstream_failure; client_cancel is never a
    failure and not counted; rejected (4xx) is excluded unless `rejected_are_failures`.
    engine: failures are outcome="error"; aborts are excluded (the engine cannot tell a client
    disconnect from a server abort) unless `aborts_are_failures`.
    """

    kind: Literal["availability"]
    source: Literal["proxy", "engine"] = "proxy"
    rejected_are_failures: bool = False
    aborts_are_failures: bool = False


class CacheHitSLI(_Frozen):
    """Time-slice floor: share of evaluations where the 5m prefix-cache hit ratio is >= `floor`."""

    kind: Literal["cache_hit"]
    floor: float = Field(gt=0, lt=1)


class ThroughputSLI(_Frozen):
    """Time-slice floor: share of busy evaluations where output tokens/s over 5m is >= `floor`."""

    kind: Literal["throughput"]
    floor: float = Field(gt=0)


class GoodputSLI(_Frozen):
    """Share of finished requests that met every per-request target at once (collector counter)."""

    kind: Literal["goodput"]
    targets: dict[str, float] = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: dict[str, float]) -> dict[str, float]:
        for key, value in v.items():
            if key not in GOODPUT_TARGETS:
                raise ValueError(f"goodput target {key!r} unknown; use {', '.join(GOODPUT_TARGETS)}")
            if not value > 0:
                raise ValueError(f"goodput target {key} must be > 0, got {value}")
        return v


class RatioSLI(_Frozen):
    """Arbitrary counters (OpenSLO ratioMetric): `bad` or `good` over `total`, each a PromQL
    vector selector of a counter; rates are taken per window."""

    kind: Literal["ratio"]
    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _one(self) -> RatioSLI:
        if (self.good is None) == (self.bad is None):
            raise ValueError("set exactly one of good and bad")
        return self


SLI = Annotated[
    LatencySLI | TokenLatencySLI | AvailabilitySLI | CacheHitSLI | ThroughputSLI | GoodputSLI | RatioSLI,
    Field(discriminator="kind"),
]
TIMESLICE_KINDS = ("cache_hit", "throughput")


def _check_histogram(metric: str, threshold: float, allowed: tuple[str, ...], kind: str) -> None:
    if metric not in allowed:
        raise ValueError(f"{kind} SLO metric {metric!r} not allowed; use one of {', '.join(allowed)}")
    sli = BY_KEY[metric]
    assert sli.instrument is Instrument.HISTOGRAM
    check_threshold(metric, threshold)


class Origin(_Frozen):
    """Where an SLO was defined, for errors raised after loading (generation, lint)."""

    file: str
    line: int


class SLO(_Frozen):
    name: str
    description: str = ""
    sli: SLI
    objective: float = Field(gt=0, lt=100, description="percent of good events (or good time slices)")
    window: str = "28d"
    by: tuple[str, ...] = ()
    match: dict[str, str] = Field(default_factory=dict)
    min_traffic: float | str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    alerting: Alerting = Field(default_factory=Alerting)
    origin: Origin | None = Field(default=None, exclude=True)

    _win = field_validator("window")(lambda v: _check_duration(v))
    _labels = field_validator("labels")(lambda v: _check_labels(v, "label"))
    _match = field_validator("match")(lambda v: _check_labels(v, "match label"))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"name {v!r} must be lower-case letters, digits and '-', 1-63 characters")
        return v

    @field_validator("by")
    @classmethod
    def _by(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for label in v:
            if not LABEL_RE.match(label):
                raise ValueError(f"by label {label!r} is not a valid label name")
        if len(set(v)) != len(v):
            raise ValueError("by labels must be unique")
        return v

    @field_validator("min_traffic")
    @classmethod
    def _min_traffic(cls, v: float | str | None) -> float | str | None:
        if v is not None:
            parse_rate(v)
        return v

    @property
    def objective_ratio(self) -> Decimal:
        return Decimal(repr(self.objective)) / 100

    @property
    def error_budget(self) -> Decimal:
        """1 - objective, exact in decimal (no 0.0009999999999999432)."""
        return (1 - self.objective_ratio).normalize()

    @property
    def window_seconds(self) -> int:
        return parse_duration(self.window)

    @property
    def min_rate(self) -> float | None:
        """Minimum events per second over a burn pair's long window, or None."""
        return None if self.min_traffic is None else parse_rate(self.min_traffic)

    @property
    def timeslice(self) -> bool:
        return self.sli.kind in TIMESLICE_KINDS


def parse_rate(value: float | str) -> float:
    """`10/h` -> 10/3600 events per second; a bare number is per second."""
    if isinstance(value, bool):
        raise ValueError("min_traffic must be a number (events/s) or a rate like 10/h")
    if isinstance(value, int | float):
        rate = float(value)
    else:
        m = _RATE_RE.match(value)
        if not m:
            raise ValueError(f"min_traffic {value!r} must be a number (events/s) or a rate like 10/h, 5/m")
        rate = float(m.group(1)) / _PER[m.group(2)]
    if not rate >= 0:
        raise ValueError(f"min_traffic must be >= 0, got {value!r}")
    return rate


class SpecFile(_Frozen):
    """One `apiVersion: llmslo/v1` document."""

    apiVersion: Literal["llmslo/v1"]
    kind: Literal["SLOSpec"] = "SLOSpec"
    slos: tuple[SLO, ...]

    @field_validator("slos", mode="before")
    @classmethod
    def _not_empty(cls, v: object) -> object:
        if isinstance(v, list | tuple) and not v:
            raise ValueError("a spec needs at least one SLO")
        return v
