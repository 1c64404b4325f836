"""Helpers for the lint tests: write a file, lint it, get the findings back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from slo.lint import Finding, LintConfig, lint_paths

LintText = Callable[..., list[Finding]]


@pytest.fixture
def lint_text(tmp_path: Path) -> LintText:
    def run(content: str, name: str = "rules.yaml", config: LintConfig | None = None) -> list[Finding]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return lint_paths([str(path)], config).findings

    return run
