"""What every check receives besides its subject: the settings and the metric facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from slo.lint.config import LintConfig
from slo.lint.metricsdb import MetricsDB
from slo.lint.registry import finding

__all__ = ["Context", "Hit", "QueryInfo", "finding"]


@dataclass(frozen=True, slots=True)
class Context:
    config: LintConfig
    db: MetricsDB
    recorded: frozenset[str] = frozenset()

    @classmethod
    def create(cls, config: LintConfig, recorded: frozenset[str] = frozenset()) -> Context:
        return cls(config, MetricsDB(config.vllm_version, config.extra_metrics), recorded)


class QueryInfo(NamedTuple):
    """What a query check may depend on besides the AST: never the file or the line, so that one
    result serves every query with the same shape (1,000 SLOs generate 1,000 copies of each)."""

    origin: str
    range_vars: bool


class Hit(NamedTuple):
    """A query check's result before it has a place: the runner locates `needle` in the query."""

    check_id: str
    needle: str
    message: str
