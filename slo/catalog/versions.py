"""Engine versions as comparable tuples, and half-open version ranges [since, until)."""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, ...]

_VERSION = re.compile(r"^\d+(\.\d+)*$")


def parse_version(text: str) -> Version:
    if not _VERSION.match(text):
        raise ValueError(f"version {text!r} is not of the form X.Y[.Z]")
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts


def format_version(version: Version) -> str:
    return ".".join(str(p) for p in version)


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Half-open: a name that ships in `since` and is gone in `until`. None means unbounded."""

    since: Version | None = None
    until: Version | None = None

    def contains(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return not (self.until is not None and version >= self.until)

    def intersect(self, other: VersionRange) -> VersionRange:
        since = max((v for v in (self.since, other.since) if v is not None), default=None)
        until = min((v for v in (self.until, other.until) if v is not None), default=None)
        return VersionRange(since, until)

    def is_empty(self) -> bool:
        return self.since is not None and self.until is not None and self.since >= self.until

    def describe(self) -> str:
        low = f">={format_version(self.since)}" if self.since else ""
        high = f"<{format_version(self.until)}" if self.until else ""
        return ",".join(p for p in (low, high) if p) or "any"


def between(since: str | None = None, until: str | None = None) -> VersionRange:
    return VersionRange(
        parse_version(since) if since else None,
        parse_version(until) if until else None,
    )


ANY = VersionRange()
