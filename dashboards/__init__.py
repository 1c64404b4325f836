"""Grafana dashboards for llmslo's canonical SLIs and SLOs (`llmslo dashboards generate`).

`dashboards.grafana` holds generic Grafana helpers over grafanalib (panels, variables, layout,
deterministic JSON, ConfigMaps, validation against Grafana's model); `dashboards.llm` the LLM
dashboards built with them; `dashboards.render` a PNG preview from live query results;
`dashboards.generate` ties them into the files the CLI writes.
"""
