"""`llmslo collector serve` (the processor service) and `llmslo collector config -o DIR` (the
otelcol-contrib configuration and Kubernetes manifests that wire it in)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

logger = logging.getLogger("llmslo.collector")

ENV_PREFIX = "LLMSLO_COLLECTOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _goodput(args: argparse.Namespace) -> tuple[object, ...]:
    from collector.goodput import from_specs, load_targets

    slos: list[object] = []
    if args.goodput_targets:
        slos.extend(load_targets(Path(args.goodput_targets)))
    if args.slo_spec:
        slos.extend(from_specs(args.slo_spec))
    return tuple(slos)


def _serve(args: argparse.Namespace) -> int:
    from collector.goodput import GoodputConfigError, GoodputSLO
    from collector.service import Service, Settings
    from collector.spans import SpanContextConfig
    from collector.store import Limits

    try:
        goodput = tuple(s for s in _goodput(args) if isinstance(s, GoodputSLO))
    except (GoodputConfigError, ValueError) as exc:  # slo.spec.SpecError is a ValueError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        host=args.host,
        http_port=args.http_port,
        grpc_port=None if args.grpc_port < 0 else args.grpc_port,
        limits=Limits(max_series=args.max_series, max_tenants=args.max_tenants,
                      tenant_allowlist=frozenset(args.tenant_allowlist), stale_after_s=args.stale_after),
        spans=SpanContextConfig(
            model_attributes=tuple(args.model_attribute) or SpanContextConfig().model_attributes,
            tenant_attributes=tuple(args.tenant_attribute) or SpanContextConfig().tenant_attributes,
            default_model=args.default_model, default_tenant=args.default_tenant),
        goodput=goodput,
        max_body=args.max_body,
        max_inflight=args.max_inflight,
        otlp_endpoint=args.otlp_endpoint,
        otlp_protocol=args.otlp_protocol,
        otlp_interval=args.otlp_interval,
    )
    service = Service(settings)
    try:
        service.start()
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    service.stop()
    return 0


def _config(args: argparse.Namespace) -> int:
    from collector.deploy.otelcol import ConfigOptions
    from collector.deploy.write import GeneratedConfigError, render, write
    from collector.goodput import GoodputConfigError, GoodputSLO

    try:
        goodput = tuple(s for s in _goodput(args) if isinstance(s, GoodputSLO))
        files = render(ConfigOptions(namespace=args.namespace, remote_write_url=args.remote_write_url,
                                     otlp_backend_url=args.otlp_backend_url, vllm_selector=args.vllm_selector,
                                     dcgm_selector=args.dcgm_selector), goodput)
    except (GoodputConfigError, GeneratedConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in write(Path(args.output), files):
        print(path)
    return 0


def _add_goodput(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--goodput-targets", default=_env("GOODPUT_TARGETS", ""),
                        help="YAML file: {goodput: [{name, targets: {ttft: 0.5, tpot: 0.05}, models: [...]}]}")
    parser.add_argument("--slo-spec", action="append", default=[],
                        help="llmslo SLO spec file or folder; its goodput SLOs give the targets (repeatable)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    collector = sub.add_parser("collector", help="the OTLP processor that derives SLIs, and its otelcol config")
    csub = collector.add_subparsers(dest="collector", metavar="COMMAND", required=True)

    serve = csub.add_parser(
        "serve", help="receive OTLP (HTTP and gRPC), derive SLIs, serve /metrics and push OTLP",
        description="Receives vLLM llm_request spans and OTLP metrics, derives canonical SLIs and goodput, "
        "serves them on GET /metrics (Prometheus text or OpenMetrics with exemplars) and pushes them over OTLP.")
    serve.add_argument("--host", default=_env("HOST", "0.0.0.0"))
    serve.add_argument("--http-port", type=int, default=int(_env("HTTP_PORT", "4318")),
                       help="OTLP/HTTP and /metrics port (default %(default)s)")
    serve.add_argument("--grpc-port", type=int, default=int(_env("GRPC_PORT", "4317")),
                       help="OTLP/gRPC port; -1 turns gRPC off (default %(default)s)")
    _add_goodput(serve)
    serve.add_argument("--model-attribute", action="append", default=[],
                       help="span/resource attribute naming the model, in preference order (repeatable)")
    serve.add_argument("--tenant-attribute", action="append", default=[],
                       help="span/resource attribute naming the tenant, in preference order (repeatable)")
    serve.add_argument("--default-model", default=_env("DEFAULT_MODEL", "unknown"),
                       help="model_name when no attribute gives one (vLLM's span has none; set the served name)")
    serve.add_argument("--default-tenant", default=_env("DEFAULT_TENANT", "unknown"))
    serve.add_argument("--tenant-allowlist", action="append", default=[],
                       help="report only these tenants by name, the rest as `other` (repeatable)")
    serve.add_argument("--max-tenants", type=int, default=0,
                       help="report at most this many tenants by name (first seen), the rest as `other`")
    serve.add_argument("--max-series", type=int, default=2000, help="series per metric before folding")
    serve.add_argument("--stale-after", type=float, default=600.0, help="seconds before an idle series is dropped")
    serve.add_argument("--max-body", type=int, default=16 * 1024 * 1024, help="largest request body, bytes")
    serve.add_argument("--max-inflight", type=int, default=4, help="requests processed at once; more get 429")
    serve.add_argument("--otlp-endpoint", default=_env("OTLP_ENDPOINT", ""),
                       help="push derived SLIs to this OTLP endpoint (e.g. http://otelcol:14318/v1/metrics)")
    serve.add_argument("--otlp-protocol", choices=("http/protobuf", "grpc"), default=_env("OTLP_PROTOCOL",
                       "http/protobuf"))
    serve.add_argument("--otlp-interval", type=float, default=15.0)
    serve.set_defaults(handler=_serve)

    config = csub.add_parser(
        "config", help="generate the otelcol-contrib config and Kubernetes manifests",
        description="Writes otelcol-config.yaml and kubernetes/*.yaml (processor Deployment, Service, goodput "
        "ConfigMap, collector RBAC and an OpenTelemetryCollector resource), checked against the pinned "
        "collector version's component schemas.")
    config.add_argument("-o", "--output", required=True, help="output folder")
    config.add_argument("--namespace", default="llmslo")
    config.add_argument("--remote-write-url", default="http://prometheus.monitoring.svc:9090/api/v1/write")
    config.add_argument("--otlp-backend-url", default="", help="also export the SLIs to this OTLP/HTTP backend")
    config.add_argument("--vllm-selector", default="llmslo.io/role=vllm", help="pod label key=value of vLLM pods")
    config.add_argument("--dcgm-selector", default="app=nvidia-dcgm-exporter",
                        help="pod label key=value of dcgm-exporter pods")
    _add_goodput(config)
    config.set_defaults(handler=_config)
