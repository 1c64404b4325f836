"""Render a generated dashboard to a PNG from real query results.

Grafana cannot run here, so this is a small stand-in: it expands the dashboard's variables, runs
every panel's queries through the Prometheus HTTP API and draws the panels where their gridPos puts
them, with matplotlib. It shows what the dashboard will show, not how Grafana styles it.
"""
