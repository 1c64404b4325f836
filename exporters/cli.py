"""`llmslo exporter vllm|dcgm`: run a sidecar until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from exporters.config import add_common, pod_labels
from exporters.pipeline import VLLM
from exporters.proxy.config import add_arguments as add_proxy_arguments
from exporters.server import make_server, serve_in_thread
from exporters.sidecar import Sidecar, scrape_collector
from exporters.upstream import Upstream

logger = logging.getLogger("llmslo.exporter")


def _run_sidecar(sidecar: Sidecar, args: argparse.Namespace) -> int:
    server = make_server(args.host, args.port, sidecar.render)
    serve_in_thread(server)
    pusher = None
    if args.otlp_endpoint:
        from exporters.otlp import OtlpPusher

        pusher = OtlpPusher(
            lambda: sidecar.snapshot().families,
            endpoint=args.otlp_endpoint,
            protocol=args.otlp_protocol,
            interval=args.otlp_interval,
            resource={"service.name": f"llmslo-exporter-{sidecar.source}", "k8s.pod.name": args.pod,
                      "k8s.namespace.name": args.namespace},
        )
        pusher.start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("serving %s SLIs on http://%s:%d/metrics from %s", sidecar.source, args.host,
                server.server_address[1], args.target)
    stop.wait()
    if pusher is not None:
        pusher.shutdown()
    server.shutdown()
    server.server_close()
    return 0


def _vllm(args: argparse.Namespace) -> int:
    upstream = Upstream(args.target, timeout=args.timeout)
    collect = scrape_collector(VLLM, upstream.fetch, extra_labels=pod_labels(args))
    try:
        return _run_sidecar(Sidecar("vllm", collect, target=args.target), args)
    finally:
        upstream.close()


def _dcgm(args: argparse.Namespace) -> int:
    from exporters.dcgm import build_collect

    collect, close = build_collect(args)
    try:
        target = "nvml" if args.source == "nvml" else args.target
        return _run_sidecar(Sidecar("dcgm", collect, target=target), args)
    finally:
        close()


def _proxy(args: argparse.Namespace) -> int:
    from exporters.proxy.config import ConfigError, from_args
    from exporters.proxy.server import run

    try:
        config = from_args(args)
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    return run(config)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exporter = sub.add_parser("exporter", help="run a sidecar exporter (vllm, dcgm, proxy)")
    esub = exporter.add_subparsers(dest="exporter", metavar="SOURCE", required=True)
    vllm = esub.add_parser(
        "vllm",
        help="scrape vLLM /metrics (any version) and serve canonical SLIs",
        description="Scrapes a vLLM /metrics endpoint on every scrape of its own /metrics, maps "
        "whatever metric generation the engine exposes to llmslo's canonical SLIs and serves them.",
    )
    add_common(vllm, default_target="http://127.0.0.1:8000/metrics", default_port=9400)
    vllm.set_defaults(handler=_vllm)
    dcgm = esub.add_parser(
        "dcgm",
        help="scrape dcgm-exporter (or read NVML) and serve canonical GPU SLIs",
        description="Scrapes NVIDIA dcgm-exporter and serves canonical GPU SLIs; with --source "
        "nvml or auto it reads NVML through nvidia-ml-py when no dcgm-exporter is reachable.",
    )
    add_common(dcgm, default_target="http://127.0.0.1:9400/metrics", default_port=9401)
    dcgm.add_argument("--source", choices=("dcgm", "nvml", "auto"), default="dcgm",
                      help="where GPU values come from (default %(default)s; auto = dcgm-exporter, "
                      "NVML while it is unreachable)")
    dcgm.set_defaults(handler=_dcgm)
    proxy = esub.add_parser(
        "proxy",
        help="streaming reverse proxy in front of vLLM's OpenAI API that measures what clients see",
        description="Passes every request to --upstream unchanged (streamed bytes as the engine sent "
        "them) and serves client-side SLIs (TTFT, inter-chunk gaps, TPOT, e2e, exact token counts, "
        "outcomes) per model, route and tenant on --metrics-port.",
    )
    add_proxy_arguments(proxy)
    proxy.set_defaults(handler=_proxy)
