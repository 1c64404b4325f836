"""slo-lint's settings: defaults, then `.slo-lint.yaml`, then command-line flags.

The config file sets severities (or `off`), the engine versions queries are checked against,
the scrape interval, retention and cardinality limit, extra metric names (from exporters llmslo
does not know) and path-scoped ignores."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from slo.catalog.versions import Version, format_version, parse_version
from slo.lint.drift import DriftTarget
from slo.lint.durations import parse_duration
from slo.lint.findings import Severity
from slo.lint.registry import CHECKS

DEFAULT_CONFIG_NAME = ".slo-lint.yaml"
LATEST_VLLM = "0.33.0"
_LATEST_VLLM_VERSION = parse_version(LATEST_VLLM)


class ConfigError(ValueError):
    """A bad config file or flag: reported as a usage error (exit 2)."""


@dataclass(frozen=True, slots=True)
class Ignore:
    path: str  # glob, matched against the path as given on the command line
    checks: tuple[str, ...]  # empty: every check

    def matches(self, path: str, check_id: str) -> bool:
        if self.checks and check_id not in self.checks:
            return False
        return fnmatch.fnmatch(path, self.path) or fnmatch.fnmatch(Path(path).as_posix(), self.path)


@dataclass(frozen=True, slots=True)
class LintConfig:
    severities: Mapping[str, Severity | None] = field(default_factory=dict)  # None: check off
    vllm_version: Version = _LATEST_VLLM_VERSION
    scrape_interval_s: float = 15.0
    retention_s: float = 15 * 86400.0
    cardinality_limit: int = 10_000
    extra_metrics: frozenset[str] = frozenset()
    ignores: tuple[Ignore, ...] = ()
    exclude: tuple[str, ...] = ()
    fail_on: Severity = Severity.ERROR
    generated: tuple[DriftTarget, ...] = ()

    def severity_of(self, check_id: str) -> Severity | None:
        if check_id in self.severities:
            return self.severities[check_id]
        return CHECKS[check_id].severity

    def ignored(self, path: str, check_id: str) -> bool:
        return any(i.matches(path, check_id) for i in self.ignores)

    def describe_vllm(self) -> str:
        return format_version(self.vllm_version)


def _severity_value(check_id: str, value: object) -> Severity | None:
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"severity.{check_id}: {exc} (or off)") from None


def _check_ids(where: str, ids: object) -> tuple[str, ...]:
    if ids is None:
        return ()
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ConfigError(f"{where}: expected a list of check ids")
    for i in ids:
        if i not in CHECKS:
            raise ConfigError(f"{where}: unknown check id {i!r}")
    return tuple(ids)


def _strings(where: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _targets(raw: object) -> tuple[DriftTarget, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("generated: expected a list of {kind, specs, output}")
    out = []
    for n, item in enumerate(raw):
        where = f"generated[{n}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str) or \
                not isinstance(item.get("output"), str):
            raise ConfigError(f"{where}: expected {{kind: rules|dashboards|collector, specs: [paths], output: dir}}")
        extra = sorted(set(item) - {"kind", "specs", "output", "args", "ignore-extra"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}")
        out.append(DriftTarget(
            kind=str(item["kind"]),
            specs=_strings(f"{where}.specs", item.get("specs") or []),
            output=str(item["output"]),
            args=_strings(f"{where}.args", item.get("args") or []),
            ignore_extra=bool(item.get("ignore-extra", False)),
        ))
    return tuple(out)


def config_from_mapping(data: Mapping[str, object], base: LintConfig | None = None) -> LintConfig:
    """Build a config from the file's mapping; every error names the key."""
    cfg = base or LintConfig()
    known = {
        "severity", "engines", "scrape-interval", "retention", "cardinality-limit", "extra-metrics",
        "ignore", "exclude", "fail-on", "generated",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    changes: dict[str, object] = {}
    try:
        sev = data.get("severity") or {}
        if not isinstance(sev, Mapping):
            raise ConfigError("severity: expected a mapping of check id to info|warning|error|off")
        severities: dict[str, Severity | None] = dict(cfg.severities)
        for check_id, value in sev.items():
            if check_id not in CHECKS:
                raise ConfigError(f"severity: unknown check id {check_id!r}")
            severities[str(check_id)] = _severity_value(str(check_id), value)
        changes["severities"] = severities
        engines = data.get("engines") or {}
        if not isinstance(engines, Mapping):
            raise ConfigError("engines: expected a mapping like {vllm: '0.33.0'}")
        for engine, version in engines.items():
            if engine != "vllm":
                raise ConfigError(f"engines.{engine}: only vllm is checked")
            changes["vllm_version"] = parse_version(str(version))
        if "scrape-interval" in data:
            changes["scrape_interval_s"] = parse_duration(str(data["scrape-interval"]))
        if "retention" in data:
            changes["retention_s"] = parse_duration(str(data["retention"]))
        if "cardinality-limit" in data:
            limit = data["cardinality-limit"]
            if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
                raise ConfigError("cardinality-limit: expected a positive integer")
            changes["cardinality_limit"] = limit
        extra = data.get("extra-metrics") or []
        if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
            raise ConfigError("extra-metrics: expected a list of metric names")
        changes["extra_metrics"] = cfg.extra_metrics | frozenset(extra)
        ignores = list(cfg.ignores)
        raw_ignores = data.get("ignore") or []
        if not isinstance(raw_ignores, list):
            raise ConfigError("ignore: expected a list of {path, checks}")
        for n, item in enumerate(raw_ignores):
            if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
                raise ConfigError(f"ignore[{n}]: expected {{path: <glob>, checks: [ids]}}")
            ignores.append(Ignore(str(item["path"]), _check_ids(f"ignore[{n}].checks", item.get("checks"))))
        changes["ignores"] = tuple(ignores)
        exclude = data.get("exclude") or []
        if not isinstance(exclude, list) or not all(isinstance(g, str) for g in exclude):
            raise ConfigError("exclude: expected a list of path globs")
        changes["exclude"] = cfg.exclude + tuple(exclude)
        changes["generated"] = cfg.generated + _targets(data.get("generated"))
        if "fail-on" in data:
            changes["fail_on"] = Severity.parse(str(data["fail-on"]))
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None
    return replace(cfg, **changes)  # type: ignore[arg-type]


def load_config(path: Path) -> LintConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return LintConfig()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
