"""Errors of the SLO spec layer.

* SpecError: a spec cannot be loaded; carries every problem found (not only the first), each with
  the file, line and field path, so an editor or CI annotation can point at it.
* ThresholdError: an SLO threshold is not a bucket boundary of its SLI; names the nearest
  boundaries below and above so the fix is obvious. slo-lint raises and reports the same error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a spec file. `line` is 1-based; 0 when unknown."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(ValueError):
    """A spec (or several) could not be loaded; `problems` lists every one found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid SLO spec")

    @property
    def first(self) -> Problem:
        return self.problems[0]


class ThresholdError(ValueError):
    """The threshold is not one of the SLI's histogram bucket boundaries (or the SLI has none)."""

    def __init__(self, sli_key: str, threshold: float, below: float | None, above: float | None,
                 message: str) -> None:
        self.sli_key = sli_key
        self.threshold = threshold
        self.below = below
        self.above = above
        super().__init__(message)
