"""Proxy settings: one frozen value built from flags (each with an environment default), so the
app, the upstream client and the limits read the same numbers and tests build it directly."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENV_PREFIX = "LLMSLO_PROXY_"


class ConfigError(ValueError):
    """A setting that cannot work (bad upstream URL, negative limit); raised before serving."""


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    upstream: str = "http://127.0.0.1:8000"
    host: str = "0.0.0.0"
    port: int = 8080
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9402
    # Tenant label: read from this request header; bounded by the allowlist, else top-k + `other`.
    tenant_header: str = ""
    tenant_allowlist: tuple[str, ...] = ()
    tenant_top_k: int = 20
    # Limits (client side).
    max_body_bytes: int = 32 * 1024 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout_s: float = 10.0  # whole request head (slowloris)
    body_timeout_s: float = 30.0  # no request-body byte for this long
    client_write_timeout_s: float = 60.0  # the client stopped reading the response
    # Upstream.
    connect_timeout_s: float = 5.0
    upstream_timeout_s: float = 600.0  # request sent -> response head (covers queueing and prefill)
    upstream_idle_timeout_s: float = 300.0  # no byte from the upstream mid-response
    max_idle_connections: int = 256
    # Non-streamed bodies are parsed for `usage` up to this size; larger ones keep only their tail.
    max_usage_body_bytes: int = 16 * 1024 * 1024
    inject_usage: bool = True
    pod: str = ""
    namespace: str = ""
    otlp_endpoint: str = ""
    otlp_protocol: str = "http/protobuf"
    otlp_interval: float = 15.0
    upstream_host: str = field(init=False, default="")
    upstream_port: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"upstream has value {self.upstream!r}. Must be http://HOST[:PORT].")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigError(f"upstream has value {self.upstream!r}. Must have no path, query or credentials.")
        try:
            port = parts.port or 80
        except ValueError:
            raise ConfigError(f"upstream has value {self.upstream!r}. The port is not a number.") from None
        object.__setattr__(self, "upstream_host", parts.hostname)
        object.__setattr__(self, "upstream_port", port)
        for name in ("max_body_bytes", "max_header_bytes", "max_headers", "tenant_top_k", "max_usage_body_bytes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} has value {getattr(self, name)}. Must be >= 0.")
        for name in ("header_timeout_s", "body_timeout_s", "client_write_timeout_s", "connect_timeout_s",
                     "upstream_timeout_s", "upstream_idle_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} has value {getattr(self, name)}. Must be > 0.")

    @property
    def upstream_authority(self) -> bytes:
        default = self.upstream_port == 80
        return (self.upstream_host if default else f"{self.upstream_host}:{self.upstream_port}").encode("ascii")


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ProxyConfig()

    def opt(flag: str, env: str, default: object, kind: type, help_: str) -> None:
        # A string default goes through `type` only when this subcommand is parsed, so a bad
        # environment value is reported by argparse then, never while other subcommands register.
        parser.add_argument(flag, type=kind, default=_env(env, str(default)),
                            help=f"{help_} (env {ENV_PREFIX}{env}; default %(default)s)")

    opt("--upstream", "UPSTREAM", d.upstream, str, "the vLLM OpenAI API base URL; the only host ever contacted")
    opt("--host", "HOST", d.host, str, "address to serve the proxied API on")
    opt("--port", "PORT", d.port, int, "port to serve the proxied API on")
    opt("--metrics-host", "METRICS_HOST", d.metrics_host, str, "address to serve /metrics on")
    opt("--metrics-port", "METRICS_PORT", d.metrics_port, int, "port to serve /metrics on")
    opt("--tenant-header", "TENANT_HEADER", d.tenant_header, str, "request header naming the tenant (empty: none)")
    opt("--tenant-allowlist", "TENANT_ALLOWLIST", "", str,
        "comma-separated tenants labelled as themselves; all others are `other` (empty: top-k)")
    opt("--tenant-top-k", "TENANT_TOP_K", d.tenant_top_k, int,
        "without an allowlist: the k busiest tenants get a label")
    opt("--max-body-bytes", "MAX_BODY_BYTES", d.max_body_bytes, int, "largest request body (413 above)")
    opt("--max-header-bytes", "MAX_HEADER_BYTES", d.max_header_bytes, int, "largest request head (431 above)")
    opt("--max-headers", "MAX_HEADERS", d.max_headers, int, "most request header fields (431 above)")
    opt("--header-timeout", "HEADER_TIMEOUT", d.header_timeout_s, float, "seconds to receive a request head (408)")
    opt("--body-timeout", "BODY_TIMEOUT", d.body_timeout_s, float, "seconds without a request-body byte (408)")
    opt("--client-write-timeout", "CLIENT_WRITE_TIMEOUT", d.client_write_timeout_s, float,
        "seconds a client may stop reading before the request is aborted")
    opt("--connect-timeout", "CONNECT_TIMEOUT", d.connect_timeout_s, float, "upstream connect timeout (502)")
    opt("--upstream-timeout", "UPSTREAM_TIMEOUT", d.upstream_timeout_s, float,
        "seconds from request sent to upstream response head (504)")
    opt("--upstream-idle-timeout", "UPSTREAM_IDLE_TIMEOUT", d.upstream_idle_timeout_s, float,
        "seconds without an upstream byte mid-response (the stream is cut)")
    parser.add_argument("--no-inject-usage", dest="inject_usage", action="store_false",
                        help="do not add stream_options.include_usage to streamed requests (token counts "
                        "are then only known when the client asks for usage)")
    parser.add_argument("--pod", default=os.environ.get("POD_NAME", ""), help="pod label (env POD_NAME)")
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", ""),
                        help="namespace label (env POD_NAMESPACE)")
    opt("--otlp-endpoint", "OTLP_ENDPOINT", "", str, "also push the SLIs over OTLP to this endpoint")
    parser.add_argument("--otlp-protocol", choices=("http/protobuf", "grpc"),
                        default=_env("OTLP_PROTOCOL", d.otlp_protocol), help="OTLP transport")
    opt("--otlp-interval", "OTLP_INTERVAL", d.otlp_interval, float, "seconds between OTLP pushes")


def from_args(args: argparse.Namespace) -> ProxyConfig:
    allow = tuple(sorted({t.strip() for t in str(args.tenant_allowlist).split(",") if t.strip()}))
    return ProxyConfig(
        upstream=args.upstream, host=args.host, port=args.port, metrics_host=args.metrics_host,
        metrics_port=args.metrics_port, tenant_header=args.tenant_header.lower(), tenant_allowlist=allow,
        tenant_top_k=args.tenant_top_k, max_body_bytes=args.max_body_bytes, max_header_bytes=args.max_header_bytes,
        max_headers=args.max_headers, header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout,
        client_write_timeout_s=args.client_write_timeout, connect_timeout_s=args.connect_timeout,
        upstream_timeout_s=args.upstream_timeout, upstream_idle_timeout_s=args.upstream_idle_timeout,
        inject_usage=args.inject_usage, pod=args.pod, namespace=args.namespace,
        otlp_endpoint=args.otlp_endpoint, otlp_protocol=args.otlp_protocol, otlp_interval=args.otlp_interval,
    )
