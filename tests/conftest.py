"""Fixtures shared by every test tier."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NoReturn

import pytest
from support.real_vllm import VllmServer, VllmUnavailableError, start_vllm

# scripts/test sets this so that a real-component test can never pass by being skipped.
REQUIRE_REAL_ENV = "LLMSLO_REQUIRE_REAL"


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
    """Exporter settings come from LLMSLO_EXPORTER_* variables; a developer's shell must not leak in."""
    for name in list(os.environ):
        if name.startswith("LLMSLO_EXPORTER_"):
            monkeypatch.delenv(name)


def real_component_unavailable(reason: str) -> NoReturn:
    """Fail under LLMSLO_REQUIRE_REAL=1 (CI, scripts/test), else skip and say why."""
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"{reason}\n({REQUIRE_REAL_ENV}=1: real components are required)", pytrace=False)
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
