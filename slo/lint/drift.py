"""drift/stale-artifact: the committed generated files (rules, dashboards, collector config) must
equal what the current specs generate, byte for byte.

A drift target (config `generated:`) names a generator kind, the spec paths and the folder the
output is committed in. Generators are pluggable: `register_generator(kind, fn)` in-process, the
`llmslo.generators` entry-point group for other packages, and, for any kind with an `llmslo`
subcommand, a run of that subcommand into a temporary folder (slo never imports the packages that
depend on it)."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from slo.lint.findings import Finding
from slo.lint.registry import finding

if TYPE_CHECKING:
    from slo.lint.context import Context
    from slo.lint.model import Workspace

# (spec paths, extra arguments) -> {path relative to the output folder: text}
Generator = Callable[[Sequence[str], Sequence[str]], Mapping[str, str]]
GENERATORS: dict[str, Generator] = {}
ENTRY_POINT_GROUP = "llmslo.generators"
MAX_DIFF_LINES = 40
GENERATOR_TIMEOUT_S = 300


class GeneratorError(Exception):
    """A generator failed: reported as a finding on the target, never a traceback."""


@dataclass(frozen=True, slots=True)
class DriftTarget:
    kind: str
    specs: tuple[str, ...]
    output: str
    args: tuple[str, ...] = ()
    ignore_extra: bool = False  # files in `output` the generator does not produce are fine
    source: str = ".slo-lint.yaml"


def register_generator(kind: str, generator: Generator) -> None:
    GENERATORS[kind] = generator


def cli_generator(argv_prefix: Sequence[str], spec_flag: str = "", output_flag: str = "-o",
                  repeat_flag: bool = False) -> Generator:
    """A generator that runs `llmslo <argv_prefix> [spec_flag] SPECS... <output_flag> TMP` (with
    ``repeat_flag``: `spec_flag SPEC` once per spec) and reads back every file it wrote."""

    def generate(specs: Sequence[str], args: Sequence[str]) -> Mapping[str, str]:
        with tempfile.TemporaryDirectory(prefix="slo-lint-drift-") as tmp:
            if repeat_flag and spec_flag:
                spec_args = [arg for spec in specs for arg in (spec_flag, spec)]
            else:
                spec_args = ([spec_flag] if spec_flag and specs else []) + list(specs)
            argv = [sys.executable, "-m", "slo.cli", *argv_prefix, *spec_args, *args, output_flag, tmp]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=GENERATOR_TIMEOUT_S,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise GeneratorError(f"`{' '.join(argv[3:])}` could not run: {exc}") from None
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise GeneratorError(f"`llmslo {' '.join(argv[3:-2])}` failed ({proc.returncode}): {' '.join(tail)}")
            return _read_tree(Path(tmp))

    return generate


def _read_tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = Path(dirpath) / name
            try:
                out[full.relative_to(root).as_posix()] = full.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                out[full.relative_to(root).as_posix()] = "<unreadable>"
    return out


def _rules_in_process(specs: Sequence[str], args: Sequence[str]) -> Mapping[str, str]:
    """slo.rules' own pure planner (same package family, so no subprocess): `--namespace NS` and
    `--no-tests` mean what they mean to `llmslo rules generate`."""
    import importlib

    try:
        spec_mod = importlib.import_module("slo.spec")
        output = importlib.import_module("slo.rules.output")
    except ImportError as exc:
        raise GeneratorError(f"slo.rules is not available: {exc}") from None
    namespace = None
    rest = list(args)
    if "--namespace" in rest:
        i = rest.index("--namespace")
        namespace = rest[i + 1] if i + 1 < len(rest) else None
    try:
        slos = spec_mod.load_specs(list(specs))
        files: Mapping[str, str] = output.plan(slos, namespace=namespace, with_tests="--no-tests" not in rest)
    except spec_mod.SpecError as exc:
        raise GeneratorError(f"the specs do not load: {exc.problems[0] if exc.problems else exc}") from None
    return files


# Built-in: every generator that has an `llmslo` subcommand.
BUILTIN_CLI: dict[str, Generator] = {
    "dashboards": cli_generator(["dashboards", "generate"], spec_flag="--slo"),
    "rules": _rules_in_process,
    "collector": cli_generator(["collector", "config"], spec_flag="--slo-spec", repeat_flag=True),
}


def generator_for(kind: str) -> Generator | None:
    if kind in GENERATORS:
        return GENERATORS[kind]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken plug-in is reported, not raised
                raise GeneratorError(f"entry point {ENTRY_POINT_GROUP}:{kind} ({ep.value}) does not load: {exc}") \
                    from None
            if callable(loaded):
                GENERATORS[kind] = loaded
                return GENERATORS[kind]
    return BUILTIN_CLI.get(kind)


def _first_difference(expected: str, actual: str) -> int:
    for n, (a, b) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if a != b:
            return n
    return min(len(expected.splitlines()), len(actual.splitlines())) + 1


def _diff(path: str, expected: str, actual: str) -> str:
    lines = list(difflib.unified_diff(
        actual.splitlines(), expected.splitlines(), fromfile=f"{path} (committed)", tofile=f"{path} (generated)",
        lineterm="", n=1,
    ))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return "\n".join(lines)


@dataclass
class DriftReport:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0


def check_target(target: DriftTarget) -> DriftReport:
    report = DriftReport()
    regen = f"regenerate with `llmslo {target.kind} ...` and commit the result"
    try:
        gen = generator_for(target.kind)
        if gen is None:
            raise GeneratorError(f"no generator registered for kind {target.kind!r}")
        expected = dict(gen(target.specs, target.args))
    except GeneratorError as exc:
        report.findings.append(finding("drift/stale-artifact", target.source, 1, 1, f"{target.kind}: {exc}"))
        return report
    except Exception as exc:  # the generator is someone else's code: report, never crash the lint
        report.findings.append(finding("drift/stale-artifact", target.source, 1, 1,
                                       f"{target.kind} generator failed: {type(exc).__name__}: {exc}"))
        return report
    out = Path(target.output)
    actual = _read_tree(out) if out.is_dir() else {}
    for rel in sorted(set(expected) | set(actual)):
        path = (out / rel).as_posix()
        if rel not in actual:
            report.findings.append(finding("drift/stale-artifact", path, 1, 1,
                                           f"generated file is missing: {regen}"))
        elif rel not in expected:
            if not target.ignore_extra and "generated by llmslo" in actual[rel][:500].lower():
                report.findings.append(finding("drift/stale-artifact", path, 1, 1,
                                               f"generated file the current specs no longer produce: delete it or "
                                               f"{regen}"))
        elif expected[rel] != actual[rel]:
            line = _first_difference(expected[rel], actual[rel])
            report.findings.append(finding(
                "drift/stale-artifact", path, line, 1,
                f"differs from what the specs generate now; {regen}:\n{_diff(path, expected[rel], actual[rel])}",
            ))
        report.checked += 1
    return report


def make_check(targets: Sequence[DriftTarget]) -> Callable[[Workspace, Context], Iterator[Finding]]:
    def check_drift(ws: Workspace, ctx: Context) -> Iterator[Finding]:
        for target in targets:
            yield from check_target(target).findings

    return check_drift
