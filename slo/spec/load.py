"""Load SLO spec files (llmslo/v1 and OpenSLO v1) into validated SLO models.

Every problem in every file is collected before raising, each located by file, line and field;
YAML syntax errors, unknown fields, bad values, off-grid thresholds, duplicate names and labels the
SLI does not carry all come back together in one SpecError.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from slo.spec.errors import Problem, SpecError, ThresholdError
from slo.spec.instances import label_problems
from slo.spec.model import SLO, Origin, SpecFile
from slo.spec.openslo import OPENSLO_V1, translate_openslo
from slo.spec.yamlpos import Document, field_name, load_documents
from slo.spec.yamlpos import Path as FieldPath

LLMSLO_V1 = "llmslo/v1"
SPEC_SUFFIXES = (".yaml", ".yml")


def spec_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to their *.yaml / *.yml files that declare an SLO apiVersion, sorted.

    A folder of specs usually sits next to what was generated from it (rule files, PrometheusRules,
    promtool tests are YAML too), so a folder only contributes files that say they are specs; a file
    named explicitly is always read, so a typo in its apiVersion is reported rather than skipped.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in SPEC_SUFFIXES and f.is_file() and _is_spec(f)))
        else:
            out.append(p)
    return out


def _is_spec(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # let the reader report it
    return any(marker in text for marker in _SPEC_MARKERS)


_SPEC_MARKERS = ("apiVersion: llmslo/", "apiVersion: openslo/", 'apiVersion: "llmslo/', 'apiVersion: "openslo/')


def load_specs(paths: Iterable[str | Path]) -> list[SLO]:
    """All SLOs of all files, in file order; raises SpecError listing every problem found."""
    problems: list[Problem] = []
    slos: list[SLO] = []
    for path in spec_paths(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, "", f"cannot read: {exc}"))
            continue
        file_slos, file_problems = parse_spec_text(text, str(path))
        slos.extend(file_slos)
        problems.extend(file_problems)
    seen: dict[str, SLO] = {}
    for slo in slos:
        first = seen.setdefault(slo.name, slo)
        if first is not slo:
            o, f = slo.origin, first.origin
            problems.append(Problem(o.file if o else "", o.line if o else 0, "name",
                                    f"duplicate SLO name {slo.name!r} (first defined at "
                                    f"{f.file if f else '?'}:{f.line if f else 0})"))
    if problems:
        raise SpecError(problems)
    if not slos:
        raise SpecError([Problem(", ".join(map(str, paths)) or "(no files)", 0, "", "no SLOs found")])
    return slos


def parse_spec_text(text: str, file: str) -> tuple[list[SLO], list[Problem]]:
    """Parse one file's text. Returns what could be loaded and the problems; never raises."""
    try:
        docs = list(load_documents(text, file))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return [], [Problem(file, line, "", f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]
    problems: list[Problem] = []
    slos: list[SLO] = []
    openslo_docs: list[Document] = []
    for doc in docs:
        problems.extend(doc.problems)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            problems.append(Problem(file, doc.line_of(()), "", "a spec document must be a mapping"))
            continue
        api = doc.data.get("apiVersion")
        if api == LLMSLO_V1:
            got, probs = _parse_llmslo(doc)
            slos.extend(got)
            problems.extend(probs)
        elif api == OPENSLO_V1:
            openslo_docs.append(doc)
        else:
            problems.append(Problem(file, doc.line_of(("apiVersion",)), "apiVersion",
                                    f"unsupported apiVersion {api!r}; expected {LLMSLO_V1!r} or {OPENSLO_V1!r}"))
    if openslo_docs:
        got_docs, probs = translate_openslo(openslo_docs)
        problems.extend(probs)
        for doc in got_docs:
            got, probs = _parse_llmslo(doc)
            slos.extend(got)
            problems.extend(probs)
    return slos, problems


def _parse_llmslo(doc: Document) -> tuple[list[SLO], list[Problem]]:
    try:
        spec = SpecFile.model_validate(doc.data)
    except ValidationError as exc:
        return [], validation_problems(exc, doc)
    slos: list[SLO] = []
    problems: list[Problem] = []
    for i, slo in enumerate(spec.slos):
        origin = Origin(file=doc.file, line=doc.line_of(("slos", i)))
        slos.append(slo.model_copy(update={"origin": origin}))
        for fld, message in label_problems(slo):
            path: FieldPath = ("slos", i, fld)
            problems.append(Problem(doc.file, doc.line_of(path), field_name(path), message))
    return slos, problems


def validation_problems(exc: ValidationError, doc: Document, prefix: FieldPath = ()) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors():
        path = _data_path(doc.data, (*prefix, *err["loc"]))
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, ThresholdError):
            path = (*path, "threshold") if path and path[-1] != "threshold" else path
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "literal_error" and "input" in err:
            message = f"{message} (got {err['input']!r})"
        out.append(Problem(doc.file, doc.line_of(path), field_name(path), message))
    return out


def _data_path(data: Any, loc: Sequence[str | int]) -> FieldPath:
    """Drop pydantic's union-tag and validator parts of `loc` that are not keys in the data."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str) and not part.startswith(
            ("function-", "tagged-union")
        ) and part not in _UNION_TAGS:
            out.append(part)  # a missing field: name it
        else:
            continue
    return tuple(out)


_UNION_TAGS = frozenset({"latency", "token_latency", "availability", "cache_hit", "throughput", "goodput", "ratio",
                         "str", "float", "int", "none"})


def raise_if(problems: list[Problem]) -> None:
    if problems:
        raise SpecError(problems)
