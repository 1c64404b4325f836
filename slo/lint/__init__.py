"""slo-lint: the CI gate for SLO specs, generated rules and dashboards."""
