"""Sidecar exporters: vLLM and DCGM scrapers that serve canonical SLIs (and, later, the proxy)."""
