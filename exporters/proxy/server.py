"""Wiring: the proxy on uvicorn (guarded protocol, uvloop when installed), /metrics on its own
port, optional OTLP push. `ProxyServer` runs it all in a background thread (tests, bench);
`run` runs it in the foreground until SIGTERM/SIGINT (the CLI)."""

from __future__ import annotations

import importlib.util
import logging
import threading
from http.server import ThreadingHTTPServer

import uvicorn

from exporters.proxy.app import ProxyApp
from exporters.proxy.config import ProxyConfig
from exporters.proxy.metrics_http import make_metrics_server, serve_in_thread
from exporters.proxy.protocol import DropStreamAborted, guarded_protocol
from exporters.proxy.recorder import Recorder

logger = logging.getLogger("llmslo.proxy")

KEEP_ALIVE_S = 75  # above common client/LB idle timeouts, so the proxy is not the side that races a reuse


def uvicorn_config(app: ProxyApp, config: ProxyConfig) -> uvicorn.Config:
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        http=guarded_protocol(config.header_timeout_s, config.max_header_bytes),
        loop="uvloop" if has_uvloop else "asyncio",
        ws="none",
        lifespan="on",
        server_header=False,  # the upstream's own Server and Date headers are passed on
        date_header=False,
        access_log=False,
        proxy_headers=False,  # the client address is not used, and X-Forwarded-For is passed on as it is
        log_config=None,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
    )


def install_log_filter() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DropStreamAborted) for f in log.filters):
        log.addFilter(DropStreamAborted())


class ProxyServer:
    """The proxy and its /metrics server in a background thread; ports 0 pick free ones."""

    def __init__(self, config: ProxyConfig) -> None:
        install_log_filter()
        self.config = config
        self.recorder = Recorder(namespace=config.namespace, pod=config.pod)
        self.app = ProxyApp(config, self.recorder)
        self.server = uvicorn.Server(uvicorn_config(self.app, config))
        self.metrics: ThreadingHTTPServer = make_metrics_server(config.metrics_host, config.metrics_port,
                                                                self.recorder)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> ProxyServer:
        serve_in_thread(self.metrics)
        self._thread = threading.Thread(target=self._run, name="llmslo-proxy", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self.server.started or not self._thread.is_alive():
                break
            deadline.wait(0.01)
        if not self.server.started:
            raise RuntimeError("the proxy did not start (see the log)")
        return self

    def _run(self) -> None:
        self.server.run()

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def metrics_port(self) -> int:
        return self.metrics.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.metrics.shutdown()
        self.metrics.server_close()


def run(config: ProxyConfig) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn handles both and drains in-flight requests)."""
    install_log_filter()
    recorder = Recorder(namespace=config.namespace, pod=config.pod)
    app = ProxyApp(config, recorder)
    metrics = make_metrics_server(config.metrics_host, config.metrics_port, recorder)
    serve_in_thread(metrics)
    pusher = None
    if config.otlp_endpoint:
        from exporters.otlp import OtlpPusher

        pusher = OtlpPusher(
            lambda: recorder.collect()[0],
            endpoint=config.otlp_endpoint,
            protocol=config.otlp_protocol,
            interval=config.otlp_interval,
            resource={"service.name": "llmslo-proxy", "k8s.pod.name": config.pod,
                      "k8s.namespace.name": config.namespace},
        )
        pusher.start()
    logger.info("proxying http://%s:%d -> %s; metrics on http://%s:%d/metrics", config.host, config.port,
                config.upstream, config.metrics_host, metrics.server_address[1])
    try:
        uvicorn.Server(uvicorn_config(app, config)).run()
    finally:
        if pusher is not None:
            pusher.shutdown()
        metrics.shutdown()
        metrics.server_close()
    return 0
