"""Prometheus exposition plumbing with no I/O: the family model, a tolerant parser and a writer."""

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels

__all__ = ["Labels", "MetricFamily", "MetricType", "Sample", "make_labels"]
