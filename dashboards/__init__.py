"""Grafana dashboard generators (issue 5)."""
