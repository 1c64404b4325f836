"""The check registry: every check id, its default severity and its doc page, in one table.

A check id (`group/name`) is also the doc path (docs/lint/<group>-<name>.md), the token users
write in suppression comments and config, and the label in every output format."""

from __future__ import annotations

from dataclasses import dataclass

from slo.lint.findings import Finding, Severity

DOCS_BASE = "docs/lint"


@dataclass(frozen=True, slots=True)
class CheckInfo:
    id: str
    severity: Severity
    summary: str

    @property
    def doc(self) -> str:
        return f"{DOCS_BASE}/{self.id.replace('/', '-')}.md"


def _c(check_id: str, severity: Severity, summary: str) -> CheckInfo:
    return CheckInfo(check_id, severity, summary)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CHECKS: dict[str, CheckInfo] = {
    c.id: c
    for c in (
        # input
        _c("input/unreadable", E, "A file cannot be read, or is not valid YAML or JSON."),
        _c("input/unknown-kind", INFO, "A YAML or JSON file is not a spec, rule file, dashboard or collector config."),
        # SLO specs
        _c("spec/schema", E, "An SLO spec does not match the schema (wrong field, type or value)."),
        _c("spec/objective-range", E, "An objective is outside (0, 1) (or (0, 100) as a percentage)."),
        _c("spec/window-retention", W, "An SLO window is longer than the metrics' typical retention."),
        _c("spec/unknown-sli", E, "An SLO names an SLI that is not in the SLI catalog."),
        _c("slo/threshold-off-bucket", E, "A latency threshold is not a histogram bucket boundary."),
        # metrics
        _c("metric/removed", E, "A query uses a vLLM metric removed in the declared engine version."),
        _c("metric/version-mismatch", E, "A query uses a vLLM metric newer than the declared engine version."),
        _c("metric/unknown", E, "A query uses a metric that neither the SLI catalog nor the engine exposes."),
        # PromQL
        _c("promql/syntax", E, "A query does not parse as PromQL."),
        _c("promql/counter-without-total", E, "A counter is queried without its `_total` suffix."),
        _c("promql/quantile-without-le", E, "`histogram_quantile` over buckets not aggregated `by (le)`."),
        _c("promql/lifetime-ratio", E, "A ratio of counters without `rate`: a lifetime average, not a current one."),
        _c("promql/bucket-without-rate", W, "Histogram buckets plotted raw: cumulative counts since start."),
        _c("promql/averaged-percentile", W, "Percentiles averaged or summed: the result is not a percentile."),
        _c("promql/rate-range-too-short", W, "A rate range shorter than 4 scrape intervals."),
        # alerts
        _c("alert/burn-factor-unreachable", E, "A burn-rate alert whose threshold is above 100 % errors."),
        _c("alert/missing-runbook", W, "An alert has no `runbook_url` annotation."),
        _c("alert/missing-summary", W, "An alert has no `summary` annotation."),
        _c("alert/label-collision", E, "Alert labels collide with each other or with series labels."),
        _c("alert/tenant-cardinality", W, "Per-tenant series estimate above the configured limit."),
        # generated artifacts
        _c("drift/stale-artifact", E, "A committed generated file differs from what the specs generate now."),
        # lint's own config
        _c("lint/bad-suppression", W, "A suppression comment names an unknown check id."),
    )
}


def get(check_id: str) -> CheckInfo:
    return CHECKS[check_id]


def finding(check_id: str, path: str, line: int, col: int, message: str) -> Finding:
    """A finding at the check's default severity; the runner applies the config's overrides."""
    return Finding(path, line, col, check_id, CHECKS[check_id].severity, message)
