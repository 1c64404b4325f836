"""Suppression comments.

`# slo-lint disable <id>[, <id>...]` silences those checks on its own line and on the YAML block
that starts on the next line (a rule, a panel, a spec); `# slo-lint disable-file <id>...`
silences them for the whole file. The same comment inside a PromQL expression (PromQL has `#`
comments, so this works in JSON dashboards too) silences them for that expression."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from slo.lint.context import finding
from slo.lint.findings import Finding
from slo.lint.registry import CHECKS

_COMMENT = re.compile(r"#\s*slo-lint\s+(disable-file|disable)\b\s*([A-Za-z0-9_/,\s-]*)")


def parse_ids(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


def expr_suppressions(expr: str) -> frozenset[str]:
    out: set[str] = set()
    for m in _COMMENT.finditer(expr):
        out.update(parse_ids(m.group(2)))
    return frozenset(out)


def _indent(line: str) -> int:
    stripped = line.lstrip(" ")
    width = len(line) - len(stripped)
    if stripped.startswith("- "):
        width += 2
    return width


@dataclass
class FileSuppressions:
    whole_file: set[str] = field(default_factory=set)
    by_line: dict[int, set[str]] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)

    def suppressed(self, line: int, check_id: str) -> bool:
        return check_id in self.whole_file or check_id in self.by_line.get(line, ())


def scan(path: str, text: str) -> FileSuppressions:
    result = FileSuppressions()
    if "slo-lint" not in text:
        return result
    lines = text.splitlines()
    for n, line in enumerate(lines, start=1):
        m = _COMMENT.search(line)
        if m is None:
            continue
        ids = parse_ids(m.group(2))
        unknown = [i for i in ids if i not in CHECKS]
        if unknown or not ids:
            result.problems.append(
                finding(
                    "lint/bad-suppression", path, n, m.start() + 1,
                    f"suppression names unknown check id(s) {', '.join(unknown)}" if unknown
                    else "suppression names no check id (write `# slo-lint disable <id>`)",
                )
            )
        ids = [i for i in ids if i in CHECKS]
        if m.group(1) == "disable-file":
            result.whole_file.update(ids)
            continue
        for covered in _span(lines, n, standalone=line.lstrip().startswith("#")):
            result.by_line.setdefault(covered, set()).update(ids)
    return result


def _span(lines: list[str], comment_line: int, standalone: bool) -> Iterator[int]:
    """The comment's own line and, for a comment on a line of its own, the block below it."""
    yield comment_line
    if not standalone:
        return
    n = comment_line  # 0-based index of the next line
    while n < len(lines) and (not lines[n].strip() or lines[n].lstrip().startswith("#")):
        yield n + 1
        n += 1
    if n >= len(lines):
        return
    base = _indent(lines[n]) - (2 if lines[n].lstrip(" ").startswith("- ") else 0)
    yield n + 1
    n += 1
    while n < len(lines):
        line = lines[n]
        if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip(" ")) <= base:
            break
        yield n + 1
        n += 1
