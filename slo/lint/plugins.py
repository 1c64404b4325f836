"""Checks over the whole workspace (spec checks, drift), registered by module so that each can
arrive with the package it depends on."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from slo.lint.context import Context
from slo.lint.findings import Finding
from slo.lint.model import Workspace

WorkspaceCheck = Callable[[Workspace, Context], Iterable[Finding]]
WORKSPACE_CHECKS: list[WorkspaceCheck] = []


def _register_builtin() -> None:
    from slo.lint.checks.specs import check_specs

    WORKSPACE_CHECKS.append(check_specs)


_register_builtin()
