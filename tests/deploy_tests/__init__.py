"""The Kubernetes examples under deploy/."""
