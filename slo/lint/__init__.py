"""slo-lint: the CI gate for SLO specs, generated rules and dashboards.

`lint_paths(paths, config)` is the whole API; `slo.lint.cli:main` is the `slo-lint` command.
Checks are listed in `slo.lint.registry.CHECKS`, each documented under docs/lint/."""

from __future__ import annotations

from slo.lint.config import LintConfig, load_config
from slo.lint.engine import LintResult, lint_paths
from slo.lint.findings import Finding, Severity
from slo.lint.registry import CHECKS, CheckInfo

__all__ = ["CHECKS", "CheckInfo", "Finding", "LintConfig", "LintResult", "Severity", "lint_paths", "load_config"]
