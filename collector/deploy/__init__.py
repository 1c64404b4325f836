"""`llmslo collector config`: the otelcol-contrib configuration and Kubernetes manifests that wire
the llmslo collector processor in, and the schema facts they are checked against."""
