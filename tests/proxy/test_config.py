"""Settings: flags and LLMSLO_PROXY_* variables build one checked ProxyConfig."""

from __future__ import annotations

import argparse

import pytest

from exporters.proxy.config import ConfigError, ProxyConfig, add_arguments, from_args


def _parse(argv: list[str]) -> ProxyConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(argv))


def test_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSLO_PROXY_TENANT_HEADER", "X-Tenant")
    monkeypatch.setenv("POD_NAME", "vllm-0")
    config = _parse(["--upstream", "http://vllm:8000", "--port", "0", "--tenant-allowlist", "b, a,,a"])
    assert (config.upstream_host, config.upstream_port, config.upstream_authority) == ("vllm", 8000, b"vllm:8000")
    assert config.tenant_header == "x-tenant" and config.tenant_allowlist == ("a", "b") and config.pod == "vllm-0"


@pytest.mark.parametrize("upstream", ["https://vllm", "http://vllm/v1", "http://u:p@vllm", "vllm:8000",
                                      "http://vllm:port"])
def test_bad_upstream_is_refused(upstream: str) -> None:
    with pytest.raises(ConfigError, match="upstream has value"):
        ProxyConfig(upstream=upstream)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        ProxyConfig(max_body_bytes=-1)
    with pytest.raises(ConfigError, match="upstream_timeout_s"):
        ProxyConfig(upstream_timeout_s=0)
