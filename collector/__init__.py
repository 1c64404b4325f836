"""The llmslo collector: an OTLP processor service that derives canonical SLIs from vLLM request
spans and from OTLP metrics, and the generator of the otelcol-contrib config and Kubernetes
manifests that wire it in. See docs/collector.md."""
