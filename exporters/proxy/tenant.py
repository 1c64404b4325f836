"""The tenant label, bounded: a header value is user input and must never become an unbounded label.

With an allowlist, listed tenants are labelled as themselves and everyone else is `other`. Without
one, the k busiest tenants get their own label: a Space-Saving sketch (Metwally et al., 2005) keeps
approximate request counts for a bounded set of candidates, and the labelled set is recomputed from
it every `refresh_s` seconds (between refreshes it only grows, first come, until k), so series do
not flap from request to request. Values that are not short identifiers are `other` too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

OTHER = "other"
NONE = "none"  # no tenant header on the request
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")


class TenantLabeler:
    def __init__(
        self,
        *,
        allowlist: Iterable[str] = (),
        top_k: int = 20,
        capacity: int | None = None,
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allow = frozenset(allowlist)
        self._k = top_k
        self._capacity = capacity if capacity is not None else max(10 * top_k, 100)
        self._refresh_s = refresh_s
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._labelled: set[str] = set()
        self._next_refresh = clock() + refresh_s

    def label(self, raw: str | None) -> str:
        if raw is None or raw == "":
            return NONE
        if self._allow:
            return raw if raw in self._allow else OTHER
        if self._k == 0 or _VALID.fullmatch(raw) is None:
            return OTHER
        self._count(raw)
        now = self._clock()
        if now >= self._next_refresh:
            self._next_refresh = now + self._refresh_s
            self._labelled = set(self.top())
        if raw in self._labelled:
            return raw
        if len(self._labelled) < self._k:
            self._labelled.add(raw)
            return raw
        return OTHER

    def _count(self, value: str) -> None:
        counts = self._counts
        if value in counts:
            counts[value] += 1
        elif len(counts) < self._capacity:
            counts[value] = 1
        else:  # Space-Saving: the newcomer inherits the smallest count (an overestimate, never an under)
            victim = min(counts, key=counts.__getitem__)
            counts[value] = counts.pop(victim) + 1

    def top(self) -> list[str]:
        """The k tenants with the highest estimated counts (ties by name, so the result is stable)."""
        ranked = sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, _ in ranked[: self._k]]

    @property
    def labelled(self) -> frozenset[str]:
        return frozenset(self._labelled)
