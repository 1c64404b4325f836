"""Goodput: did one request meet every per-request target of a goodput SLO at once?

Histograms cannot answer that (targets must hold jointly for the same request), so the collector
evaluates each finished span against each goodput SLO and counts `met` or `missed`. The targets
are a small pure type of our own; `from_specs` adapts `slo.spec` SLOs, `load_targets` reads a plain
YAML file (for deployments without SLO specs at hand).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collector.spans import PLAN


class GoodputConfigError(ValueError):
    """A goodput target that cannot be evaluated; the message names the SLO, the field and the value."""


EVALUABLE: frozenset[str] = PLAN.histograms
"""SLI keys a target may name: every per-request value a span gives."""


@dataclass(frozen=True, slots=True)
class GoodputSLO:
    """`name` becomes the `slo` label. A request meets the SLO when, for every (SLI key, threshold),
    its value is <= threshold; a target the request cannot be judged on (TPOT of a one-token
    answer) counts as met, as the catalog defines. `models` limits the SLO to some models
    (empty: every model)."""

    name: str
    targets: tuple[tuple[str, float], ...]
    models: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.name:
            raise GoodputConfigError("goodput SLO with an empty name")
        if not self.targets:
            raise GoodputConfigError(f"goodput SLO {self.name!r} has no targets")
        for key, threshold in self.targets:
            if key not in EVALUABLE:
                raise GoodputConfigError(
                    f"goodput SLO {self.name!r}: target {key!r} is not a per-request SLI a span gives; "
                    f"use one of {', '.join(sorted(EVALUABLE))}"
                )
            if not math.isfinite(threshold) or threshold <= 0:
                raise GoodputConfigError(
                    f"goodput SLO {self.name!r}: target {key} has value {threshold}. Must be a number > 0."
                )

    def applies_to(self, model: str) -> bool:
        return not self.models or model in self.models

    def met(self, values: Mapping[str, float]) -> bool:
        for key, threshold in self.targets:
            value = values.get(key)
            if value is not None and value > threshold:
                return False
        return True


def parse_targets(doc: Any, origin: str) -> tuple[GoodputSLO, ...]:
    """`{"goodput": [{"name": ..., "targets": {"ttft": 0.5, ...}, "models": [...]}, ...]}`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("goodput"), list):
        raise GoodputConfigError(f"{origin}: expected a mapping with a `goodput` list")
    out: list[GoodputSLO] = []
    for i, item in enumerate(doc["goodput"]):
        where = f"{origin}: goodput[{i}]"
        if not isinstance(item, dict):
            raise GoodputConfigError(f"{where} has value {item!r}. Must be a mapping.")
        name = item.get("name")
        targets = item.get("targets")
        models = item.get("models", [])
        if not isinstance(name, str):
            raise GoodputConfigError(f"{where}.name has value {name!r}. Must be a string.")
        if not isinstance(targets, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) for k, v in targets.items()
        ):
            raise GoodputConfigError(f"{where}.targets has value {targets!r}. Must map SLI keys to numbers.")
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise GoodputConfigError(f"{where}.models has value {models!r}. Must be a list of model names.")
        try:
            out.append(GoodputSLO(name, tuple(sorted((k, float(v)) for k, v in targets.items())),
                                  frozenset(models)))
        except GoodputConfigError as exc:
            raise GoodputConfigError(f"{where}: {exc}") from None
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise GoodputConfigError(f"{origin}: goodput SLO names must be unique, got {names}")
    return tuple(out)


def load_targets(path: Path) -> tuple[GoodputSLO, ...]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GoodputConfigError(f"{path}: {exc}") from None
    return parse_targets(doc, str(path))


def from_specs(paths: Iterable[str | Path]) -> tuple[GoodputSLO, ...]:
    """The goodput SLOs of llmslo SLO specs (`slo.spec`; `sli.kind: goodput`). Spec errors are
    raised as `slo.spec.SpecError` (with file, line and field); a target a span cannot give is a
    GoodputConfigError. `match`/`by` are not needed here: the counter is kept per model and
    tenant, and the generated rules select from it."""
    from slo.spec import GoodputSLI, load_specs

    out: list[GoodputSLO] = []
    for spec in load_specs(paths):
        if isinstance(spec.sli, GoodputSLI):
            try:
                out.append(GoodputSLO(spec.name, tuple(sorted(spec.sli.targets.items()))))
            except GoodputConfigError as exc:
                where = f"{spec.origin.file}:{spec.origin.line}: " if spec.origin is not None else ""
                raise GoodputConfigError(f"{where}{exc}") from None
    return tuple(out)
