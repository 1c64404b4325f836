"""Sidecar settings from flags, with environment-variable defaults (12-factor, as Kubernetes
manifests set them), and the Downward API labels that say which pod a series came from."""

from __future__ import annotations

import argparse
import os

from slo.metrics.model import Labels, make_labels

ENV_PREFIX = "LLMSLO_EXPORTER_"


def env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(ENV_PREFIX + name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{ENV_PREFIX}{name} has value {raw!r}. Must be a number.") from None


def add_common(parser: argparse.ArgumentParser, *, default_target: str, default_port: int) -> None:
    parser.add_argument("--target", default=env("TARGET", default_target),
                        help="upstream /metrics URL (env LLMSLO_EXPORTER_TARGET; default %(default)s)")
    parser.add_argument("--host", default=env("HOST", "0.0.0.0"),
                        help="address to serve /metrics on (env LLMSLO_EXPORTER_HOST; default %(default)s)")
    parser.add_argument("--port", type=int, default=int(env_float("PORT", default_port)),
                        help="port to serve /metrics on (env LLMSLO_EXPORTER_PORT; default %(default)s)")
    parser.add_argument("--timeout", type=float, default=env_float("TIMEOUT", 3.0),
                        help="upstream scrape timeout in seconds; keep it below Prometheus' "
                        "scrape_timeout (env LLMSLO_EXPORTER_TIMEOUT; default %(default)s)")
    parser.add_argument("--pod", default=os.environ.get("POD_NAME", ""),
                        help="pod label added to every SLI (Downward API env POD_NAME)")
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", ""),
                        help="namespace label added to every SLI (Downward API env POD_NAMESPACE)")
    parser.add_argument("--otlp-endpoint", default=env("OTLP_ENDPOINT", ""),
                        help="also push the SLIs over OTLP to this endpoint, e.g. "
                        "http://collector:4318/v1/metrics or collector:4317 (env LLMSLO_EXPORTER_OTLP_ENDPOINT)")
    parser.add_argument("--otlp-protocol", choices=("http/protobuf", "grpc"),
                        default=env("OTLP_PROTOCOL", "http/protobuf"),
                        help="OTLP transport (env LLMSLO_EXPORTER_OTLP_PROTOCOL; default %(default)s)")
    parser.add_argument("--otlp-interval", type=float, default=env_float("OTLP_INTERVAL", 15.0),
                        help="seconds between OTLP pushes (env LLMSLO_EXPORTER_OTLP_INTERVAL; default %(default)s)")


def pod_labels(args: argparse.Namespace) -> Labels:
    return make_labels({"pod": args.pod, "namespace": args.namespace})
