"""SLO rule generation: specs to Prometheus recording rules, burn-rate alerts and promtool tests."""
