"""One lint run: load, extract, check, then apply suppressions and the config's severities."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from slo.lint import extract as ex
from slo.lint import grafana, promql, suppress
from slo.lint.checks import QUERY_CHECKS, RULE_CHECKS
from slo.lint.checks.alerts import duplicate_alerts
from slo.lint.config import LintConfig
from slo.lint.context import Context, Hit, QueryInfo, finding
from slo.lint.discover import discover
from slo.lint.drift import make_check
from slo.lint.findings import Finding
from slo.lint.loader import LoadError, load_file
from slo.lint.model import Query, Workspace
from slo.lint.plugins import WORKSPACE_CHECKS


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    queries: int = 0
    rules: int = 0
    suppressed: int = 0


def _check_failed(where: str, path: str, line: int, exc: Exception) -> Finding:
    # A check must never take the run down; if one breaks, say so at the input it broke on.
    return finding("input/unreadable", path, line, 1, f"internal error in {where}: {type(exc).__name__}: {exc}")


def build_workspace(files: Sequence[str], explicit: set[str], found: list[Finding]) -> Workspace:
    ws = Workspace()
    for path in files:
        try:
            docs = load_file(path)
        except LoadError as exc:
            found.append(finding("input/unreadable", path, exc.line, exc.col, exc.message))
            continue
        for doc in docs:
            kind = ex.extract(doc, ws)
            if kind == ex.UNKNOWN and path in explicit:
                found.append(
                    finding("input/unknown-kind", path, 1, 1,
                            "not an SLO spec, Prometheus rule file, Grafana dashboard or collector config")
                )
    ws.recorded = frozenset(r.name for r in ws.rules if r.kind == "record")
    return ws


def query_hits(text: str, info: QueryInfo, ctx: Context) -> tuple[str, list[Hit]]:
    """(parse error or "", hits) for one expression shape."""
    parsed = promql.parse(text)
    if parsed.expr is None:
        return parsed.error, []
    hits: list[Hit] = []
    for check in QUERY_CHECKS:
        try:
            hits.extend(check(info, parsed.expr, ctx))
        except Exception as exc:  # reported as a finding, see _check_failed
            hits.append(Hit("input/unreadable", "", f"internal error in {check.__name__}: "
                                                    f"{type(exc).__name__}: {exc}"))
    return "", hits


def _check_shape(text: str, query: Query, ctx: Context) -> tuple[str, bool, list[Hit]]:
    """(parse error, whether variables were substituted, hits) for one expression shape."""
    range_vars = query.range_vars
    substituted = False
    if query.grafana:
        new_text, range_vars = grafana.substitute(text)
        substituted = new_text != text
        text = new_text
    error, hits = query_hits(text, QueryInfo(query.origin, range_vars), ctx)
    return error, substituted, hits


def run_checks(ws: Workspace, config: LintConfig) -> list[Finding]:
    ctx = Context.create(config, ws.recorded)
    found: list[Finding] = []
    cache: dict[tuple[str, str, bool, bool], tuple[str, bool, list[Hit]]] = {}
    for query in ws.queries:
        key = (promql.shape(query.expr), query.origin, query.range_vars, query.grafana)
        result = cache.get(key)
        if result is None:
            result = cache[key] = _check_shape(key[0], query, ctx)
            if result[0] and key[0] != query.expr:  # the blanking itself must not be what broke it
                result = cache[key] = _check_shape(query.expr, query, ctx)
        error, substituted, hits = result
        if error:
            line, col = query.location()
            note = " (after substituting Grafana variables)" if substituted else ""
            found.append(finding("promql/syntax", query.path, line, col, f"PromQL does not parse{note}: {error}"))
            continue
        if not hits:
            continue
        quiet = suppress.expr_suppressions(query.raw) if "slo-lint" in query.raw else frozenset()
        for hit in hits:
            if hit.check_id not in quiet:
                line, col = query.location(hit.needle)
                found.append(finding(hit.check_id, query.path, line, col, hit.message))
    for rule in ws.rules:
        quiet = suppress.expr_suppressions(rule.query.raw) if rule.query and "slo-lint" in rule.query.raw \
            else frozenset()
        for rule_check in RULE_CHECKS:
            try:
                found.extend(f for f in rule_check(rule, ctx) if f.check_id not in quiet)
            except Exception as exc:
                found.append(_check_failed(rule_check.__name__, rule.doc.path, rule.location()[0], exc))
    found.extend(duplicate_alerts(ws.rules))
    for ws_check in (*WORKSPACE_CHECKS, make_check(config.generated)):
        try:
            found.extend(ws_check(ws, ctx))
        except Exception as exc:
            found.append(_check_failed(getattr(ws_check, "__name__", "check"), "<workspace>", 1, exc))
    return found


def finalize(found: Iterable[Finding], texts: dict[str, str], config: LintConfig) -> tuple[list[Finding], int]:
    """Apply suppression comments, ignores and severity overrides; sort; count what was silenced."""
    scans: dict[str, suppress.FileSuppressions] = {}
    out: list[Finding] = []
    silenced = 0
    pending = list(found)
    for path, text in texts.items():
        scans[path] = suppress.scan(path, text)
        pending.extend(scans[path].problems)
    for f in pending:
        severity = config.severity_of(f.check_id)
        scan = scans.get(f.path)
        if severity is None or config.ignored(f.path, f.check_id) or (scan and scan.suppressed(f.line, f.check_id)):
            silenced += 1
            continue
        out.append(f if severity == f.severity else f.with_severity(severity))
    return sorted(set(out)), silenced


def lint_paths(paths: Sequence[str], config: LintConfig | None = None) -> LintResult:
    """Lint files and folders. Raises discover.UsageError for a path that does not exist."""
    config = config or LintConfig()
    files, explicit = discover(paths, config.exclude)
    # A lint run builds millions of small acyclic objects and frees them all at exit: the cyclic
    # collector would only rescan them, over and over (a third of the run time at 1,000 SLOs).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        found: list[Finding] = []
        ws = build_workspace(files, explicit, found)
        found.extend(run_checks(ws, config))
        texts = {d.path: d.text for d in ws.documents}
        findings, silenced = finalize(found, texts, config)
    finally:
        if gc_was_enabled:
            gc.enable()
    return LintResult(findings, files, len(ws.queries), len(ws.rules), silenced)
