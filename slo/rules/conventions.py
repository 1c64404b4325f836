"""Every generated name and label in one place (docs/rules.md documents the same list).

Recording rules use the `llmslo_slo:` prefix (level:metric:operation), so they never collide with
Sloth's `slo:` rules when both run; every series carries `slo=<SLO name>` plus the SLO's `by`
labels (model_name, tenant, ...) and its spec labels.
"""

from __future__ import annotations

from slo.spec import format_duration

PREFIX = "llmslo_slo"
SLO_LABEL = "slo"
WINDOW_LABEL = "slo_window"
KIND_LABEL = "sli_kind"
SEVERITY_LABEL = "severity"
GROUP_PREFIX = "llmslo-slo-"

BASE_WINDOW_S = 300  # the shortest window: every longer ratio can be derived from its rates
RAW_MAX_S = 3600  # windows up to 1h are computed from the source (fast detection and exact reset)
TOLERANCE = "1e-12"  # burn thresholds allow float rounding, so a burn of exactly F fires


def bad_rate() -> str:
    return f"{PREFIX}:bad:rate{format_duration(BASE_WINDOW_S)}"


def events_rate() -> str:
    return f"{PREFIX}:events:rate{format_duration(BASE_WINDOW_S)}"


def error_ratio(window_s: int) -> str:
    return f"{PREFIX}:error:ratio_rate{format_duration(window_s)}"


ERROR_RATIO_PERIOD = f"{PREFIX}:error:ratio_period"
OBJECTIVE = f"{PREFIX}:objective:ratio"
BUDGET_REMAINING = f"{PREFIX}:error_budget_remaining:ratio"


def group_name(slo_name: str) -> str:
    return f"{GROUP_PREFIX}{slo_name}"
