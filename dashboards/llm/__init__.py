"""llmslo's dashboards: PromQL over the canonical SLIs of `slo.catalog`, laid out with the generic
helpers of `dashboards.grafana`. One module per dashboard."""
