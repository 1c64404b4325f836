"""The optional C hot path of span ingest (collector/_spanscan.c), set up from collector.spans.

Built by setup.py where a C compiler is; without it both functions here are None and the Python
paths run (learnt layouts in collector.fastspans, the store's batched aggregation in Python).
Those stay the reference: the C reader hands back every span it does not read plainly, and
`accumulate` declines values that are not plain floats or exactly representable ints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from collector.spans import _TPOT_KEYS, _WANTED, DEPRECATED_ALIASES, RequestObservation, SpanContextConfig

try:
    from collector import _spanscan
except ImportError:  # pragma: no cover - exercised on machines without a C compiler
    _spanscan = None  # type: ignore[assignment]

ReadMany = Callable[[Sequence[bytes], str, str], tuple[list[RequestObservation | bytes], int]]
Accumulate = Callable[
    [list[RequestObservation], str, "tuple[float, ...] | None", "list[int] | None", float],
    "tuple[float, int, list[tuple[int, float, RequestObservation]]] | None",
]

AVAILABLE: Final = _spanscan is not None
accumulate: Final[Accumulate | None] = None if _spanscan is None else _spanscan.accumulate


def span_reader(config: SpanContextConfig) -> ReadMany | None:
    """`Reader.read_many` for this label configuration (observe_span's rules, compiled once)."""
    if _spanscan is None:
        return None
    groups: dict[str, int] = {}
    attributes: list[tuple[bytes, tuple[str, ...], bool, int]] = []
    for key, (sli_keys, whole, alias, attribute) in sorted(_WANTED.items()):
        catalog = DEPRECATED_ALIASES[attribute] if alias else attribute
        attributes.append((key, sli_keys, whole, groups.setdefault(catalog, len(groups))))
    flags: dict[str, tuple[bool, bool]] = {}
    for name in config.model_attributes:
        flags[name] = (True, flags.get(name, (False, False))[1])
    for name in config.tenant_attributes:
        flags[name] = (flags.get(name, (False, False))[0], True)
    # A label key that is also an SLI attribute is read as the SLI only, as observe_span does.
    labels = tuple((k.encode(), m, t) for k, (m, t) in sorted(flags.items()) if k.encode() not in _WANTED)
    reader: Any = _spanscan.Reader(tuple(attributes), labels, _TPOT_KEYS, config.default_model,
                                   config.default_tenant, RequestObservation)
    read_many: ReadMany = reader.read_many
    return read_many
