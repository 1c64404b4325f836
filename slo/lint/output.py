"""Output formats: human (path:line: id: message), JSON, GitHub Actions annotations, SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Sequence

from slo import __version__
from slo.lint.findings import Finding, Severity
from slo.lint.registry import CHECKS

FORMATS = ("human", "json", "github", "sarif")
REPO_URL = "https://github.com/llmslo/llmslo/blob/main/"


def summary(findings: Sequence[Finding], files: int) -> str:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    if not findings:
        return f"slo-lint: no problems in {files} file(s)"
    parts = ", ".join(f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True) if counts[s])
    return f"slo-lint: {len(findings)} problem(s) ({parts}) in {files} file(s)"


def human(findings: Sequence[Finding]) -> str:
    return "".join(f"{f.path}:{f.line}:{f.col}: {f.check_id}: {f.message} [{f.severity.label}]\n" for f in findings)


def as_json(findings: Sequence[Finding], files: int) -> str:
    doc = {
        "tool": "slo-lint",
        "version": __version__,
        "files": files,
        "findings": [f.as_dict() for f in findings],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


_GH_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def github(findings: Sequence[Finding]) -> str:
    return "".join(
        f"::{_GH_LEVEL[f.severity]} file={_gh_prop(f.path)},line={f.line},col={f.col},"
        f"title={_gh_prop(f.check_id)}::{_gh_data(f.message)}\n"
        for f in findings
    )


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def sarif(findings: Sequence[Finding]) -> str:
    rules = [
        {
            "id": c.id,
            "name": c.id.replace("/", "-"),
            "shortDescription": {"text": c.summary},
            "helpUri": REPO_URL + c.doc,
            "defaultConfiguration": {"level": _SARIF_LEVEL[c.severity]},
        }
        for c in sorted(CHECKS.values(), key=lambda c: c.id)
    ]
    index = {r["id"]: n for n, r in enumerate(rules)}
    results = [
        {
            "ruleId": f.check_id,
            "ruleIndex": index[f.check_id],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/").removeprefix("./")},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.col, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "slo-lint",
                        "version": __version__,
                        "informationUri": REPO_URL + "docs/lint/index.md",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render(fmt: str, findings: Sequence[Finding], files: int) -> str:
    if fmt == "json":
        return as_json(findings, files)
    if fmt == "github":
        return github(findings)
    if fmt == "sarif":
        return sarif(findings)
    return human(findings)
