"""Generated rules as plain frozen data; rendering to YAML is slo.rules.render's job."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rule:
    expr: str
    record: str | None = None
    alert: str | None = None
    for_: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The rule in Prometheus rule-file shape, keys in Prometheus' usual order."""
        out: dict[str, object] = {"record": self.record} if self.record else {"alert": self.alert}
        out["expr"] = self.expr
        if self.for_:
            out["for"] = self.for_
        if self.labels:
            out["labels"] = dict(sorted(self.labels))
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations))
        return out


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    slo: str
    source: str  # the spec file the SLO came from
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def records(self) -> tuple[str, ...]:
        return tuple(r.record for r in self.rules if r.record)

    @property
    def alerts(self) -> tuple[str, ...]:
        return tuple(r.alert for r in self.rules if r.alert)
