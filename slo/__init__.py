"""llmslo's pure domain core: the SLI catalog, mapping of engine metrics to canonical SLIs,
SLO specs, rule generation and lint. No network, no clock: every other package builds on it."""

__version__ = "0.1.0"
