"""Stub of the optional C extension (collector/_spanscan.c)."""

from collections.abc import Sequence
from typing import Any

class Reader:
    def __init__(
        self,
        attributes: tuple[tuple[bytes, tuple[str, ...], bool, int], ...],
        labels: tuple[tuple[bytes, bool, bool], ...],
        tpot: tuple[tuple[str, str, str], ...],
        default_model: str,
        default_tenant: str,
        observation: type[tuple[Any, ...]],
    ) -> None: ...
    def read_many(self, spans: Sequence[bytes], resource_model: str, resource_tenant: str) -> tuple[list[Any], int]: ...

def accumulate(
    batch: list[Any], key: str, bounds: tuple[float, ...] | None, counts: list[int] | None, total: float
) -> tuple[float, int, list[tuple[int, float, Any]]] | None: ...
