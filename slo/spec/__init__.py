"""SLO specs: `apiVersion: llmslo/v1` YAML (and OpenSLO v1) to validated, frozen models.

Public surface, shared by rule generation, slo-lint, dashboards and the collector:

* `load_specs(paths) -> list[SLO]`, raising `SpecError` (every problem, each with file, line, field).
* `check_threshold(sli_key, threshold)`, raising `ThresholdError` that names the nearest boundaries.
* `expand(slo) -> tuple[Instance, ...]`: the labels and selectors rules are built from.
"""

from __future__ import annotations

from slo.spec.durations import format_duration, parse_duration
from slo.spec.errors import Problem, SpecError, ThresholdError
from slo.spec.instances import LABEL_ALIASES, Instance, canonical_label, expand, sli_keys
from slo.spec.load import load_specs, parse_spec_text, spec_paths
from slo.spec.model import (
    SLI,
    SLO,
    Alerting,
    AvailabilitySLI,
    BurnWindow,
    CacheHitSLI,
    GoodputSLI,
    LatencySLI,
    NoDataAlert,
    Origin,
    RatioSLI,
    SpecFile,
    ThroughputSLI,
    TierAlert,
    TokenLatencySLI,
    parse_rate,
)
from slo.spec.threshold import check_threshold

__all__ = [
    "LABEL_ALIASES",
    "SLI",
    "SLO",
    "Alerting",
    "AvailabilitySLI",
    "BurnWindow",
    "CacheHitSLI",
    "GoodputSLI",
    "Instance",
    "LatencySLI",
    "NoDataAlert",
    "Origin",
    "Problem",
    "RatioSLI",
    "SpecError",
    "SpecFile",
    "ThresholdError",
    "ThroughputSLI",
    "TierAlert",
    "TokenLatencySLI",
    "canonical_label",
    "check_threshold",
    "expand",
    "format_duration",
    "load_specs",
    "parse_duration",
    "parse_rate",
    "parse_spec_text",
    "sli_keys",
    "spec_paths",
]
