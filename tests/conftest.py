"""Fixtures shared by every test tier."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NoReturn

import pytest
from hypothesis import settings
from support.real_vllm import VllmServer, VllmUnavailableError, start_vllm

from exporters.pipeline import VLLM
from exporters.server import make_server, serve_in_thread
from exporters.sidecar import Sidecar, scrape_collector
from exporters.upstream import Upstream

# scripts/test sets this so that a real-component test can never pass by being skipped.
REQUIRE_REAL_ENV = "LLMSLO_REQUIRE_REAL"
REQUIRE_SPEEDUPS_ENV = "LLMSLO_REQUIRE_SPEEDUPS"

# No per-example deadline: on a 2-vCPU CI machine a process is sometimes descheduled for most of a
# second, and hypothesis would report that stall as a flaky test. Speed is measured in bench/.
settings.register_profile("llmslo", deadline=None)
settings.load_profile("llmslo")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing against them",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True with --update-golden or UPDATE_GOLDEN=1: golden tests write instead of compare."""
    return bool(request.config.getoption("--update-golden")) or os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def _no_exporter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exporter settings come from LLMSLO_EXPORTER_* and OTEL_* variables; a developer's shell must not leak in."""
    for name in list(os.environ):
        if name.startswith(("LLMSLO_EXPORTER_", "OTEL_EXPORTER_OTLP_", "OTEL_SDK_")):
            monkeypatch.delenv(name)


def real_component_unavailable(reason: str) -> NoReturn:
    """Fail under LLMSLO_REQUIRE_REAL=1 (CI, scripts/test), else skip and say why."""
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"{reason}\n({REQUIRE_REAL_ENV}=1: real components are required)", pytrace=False)
    pytest.skip(reason)


def speedups_unavailable(module: str) -> NoReturn:
    """A C extension (setup.py) was not built: fail under LLMSLO_REQUIRE_SPEEDUPS=1 (CI,
    scripts/test), else skip and say why. Its pure-Python fallback is tested either way."""
    reason = f"C extension {module} not built (no C compiler at install time? see setup.py)"
    if os.environ.get(REQUIRE_SPEEDUPS_ENV) == "1":
        pytest.fail(f"{reason}\n({REQUIRE_SPEEDUPS_ENV}=1: the C extensions are required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """One real vLLM server shared by the whole run (startup takes about 60-90 s on 2 cores)."""
    log_path = tmp_path_factory.mktemp("vllm") / "vllm.log"
    error: VllmUnavailableError | None = None
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_vllm(log_path=log_path))
        except VllmUnavailableError as exc:
            error = exc  # reported outside the except block, so the log tail is not printed twice
        if error is not None:
            real_component_unavailable(f"real vLLM unavailable: {error}")
        yield server


# The labels the shared sidecar adds, as a Kubernetes pod's downward API would.
SIDECAR_POD_LABELS = (("namespace", "e2e"), ("pod", "vllm-0"))


@pytest.fixture(scope="session")
def vllm_sidecar(real_vllm: VllmServer) -> Iterator[str]:
    """The vLLM sidecar in front of the shared real vLLM, serving canonical SLIs; yields host:port.

    Scrape it from a test's own Prometheus; it reads vLLM on every scrape (no coalescing), so two
    scrapers at once both see fresh values.
    """
    upstream = Upstream(real_vllm.metrics_url, timeout=5.0)
    sidecar = Sidecar(
        "vllm",
        scrape_collector(VLLM, upstream.fetch, extra_labels=SIDECAR_POD_LABELS),
        target=real_vllm.metrics_url,
        min_interval=0.0,
    )
    server = make_server("127.0.0.1", 0, sidecar.render)
    serve_in_thread(server)
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    upstream.close()
