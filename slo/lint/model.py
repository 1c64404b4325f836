"""What the checks see: queries and rules pulled out of files, each with its location."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from slo.lint.loader import Document, Path_


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL expression. `expr` is what is parsed, `raw` what the file says (they differ for
    templated spec queries); `grafana` marks dashboard queries, whose `$variables` the runner
    substitutes; `range_vars` is true when a range came from a template variable, which the
    templating tool sizes itself."""

    doc: Document
    at: Path_
    expr: str
    raw: str
    origin: str  # record | alert | panel | template | annotation | spec
    name: str = ""
    range_vars: bool = False
    grafana: bool = False

    @property
    def path(self) -> str:
        return self.doc.path

    def location(self, needle: str = "") -> tuple[int, int]:
        """Line/column of the expression, or of `needle` inside it when it can be found."""
        line, col = self.doc.locate(self.at)
        if not needle or self.doc.fmt != "yaml":
            return line, col
        idx = self.raw.find(needle)
        if idx < 0:
            return line, col
        nl = self.raw[:idx].count("\n")
        target = line + nl + (1 if self.doc.is_block_scalar(self.at) else 0)
        text_lines = self.doc.text.splitlines()
        if target - 1 < len(text_lines):
            found = text_lines[target - 1].find(needle)
            if found >= 0:
                return target, found + 1
        return line, col


@dataclass(frozen=True, slots=True)
class Rule:
    """A Prometheus recording or alerting rule."""

    doc: Document
    at: Path_  # path of the rule mapping
    kind: str  # record | alert
    name: str
    group: str
    query: Query | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def location(self, key: str = "") -> tuple[int, int]:
        return self.doc.locate((*self.at, key) if key else (*self.at, self.kind))


@dataclass
class Workspace:
    """Everything one lint run found, across files: checks that span files (recording rules
    defined in one file and used in another, drift) read it whole."""

    documents: list[Document] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)  # id(document) -> kind
    queries: list[Query] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    recorded: frozenset[str] = frozenset()

    def kind(self, doc: Document) -> str:
        return self.kinds.get(id(doc), "unknown")
