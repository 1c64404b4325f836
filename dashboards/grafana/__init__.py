"""Generic Grafana building blocks over grafanalib: nothing here knows about LLMs or llmslo metrics.

`panels` makes panels, `query` Prometheus targets, `variables` template variables, `layout` places
panels on the 24-column grid, `encode` turns a dashboard into deterministic JSON, `provisioning`
wraps it for Kubernetes and Grafana, `validate` checks it against Grafana's dashboard model.
"""
