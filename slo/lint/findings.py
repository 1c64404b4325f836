"""What a check reports: a located finding with a severity. Checks return these and never raise,
so one bad file or expression can never hide the findings about the others."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """Ordered, so `--fail-on warning` is a plain comparison."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"severity {text!r} is not one of info, warning, error") from None


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One problem at one place. Ordered by path, line, column, then check id, so output is stable."""

    path: str
    line: int
    col: int
    check_id: str
    severity: Severity
    message: str

    def with_severity(self, severity: Severity) -> Finding:
        return Finding(self.path, self.line, self.col, self.check_id, severity, self.message)

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check_id,
            "severity": self.severity.label,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
        }
