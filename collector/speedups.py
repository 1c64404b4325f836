"""The optional C hot path of span ingest (collector/_spanscan.c), set up from collector.spans.

Built by setup.py where a C compiler is; without it both functions here are None and the Python
paths run (learnt layouts in collector.fastspans, the store's batched aggregation in Python).
Those stay the reference: the C reader hands back every span it does not read plainly, and
`accumulate` declines values that are not plain floats or exactly representable ints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from collector.spans import _TPOT_KEYS, _WANTED, DEPRECATED_ALIASES, RequestObservation, SpanContextConfig

try:
    from collector import _spanscan
except ImportError:  # pragma: no cover - exercised on machines without a C compiler
    _spanscan = None  # type: ignore[assignment]
else:
    # A span's SLI values as the C reader holds them: read-only, and a Mapping like observe_span's dict.
    Mapping.register(_spanscan.Values)

Labels = tuple[str, str, str, str]  # model, tenant, namespace, pod
Items = list[RequestObservation | bytes]


class SpanReader(Protocol):
    """The C reader (collector/_spanscan.c): spans it reads plainly become observations, the rest
    stay encoded for the Python path; `left` counts those."""

    def read_many(self, spans: Sequence[bytes], resource_model: str, resource_tenant: str) -> tuple[Items, int]: ...

    def read_request(
        self, body: bytes, labels_of: Callable[[list[bytes]], Labels]
    ) -> list[tuple[Labels, Items, int]] | None: ...


# key, bounds, counts, exemplars (both updated in place), total -> (total, n), or None: Python decides
Spec = tuple[str, "tuple[float, ...] | None", "list[int] | None", "list[Any] | None", float]
AccumulateMany = Callable[[list[RequestObservation], list[Spec]], list["tuple[float, int] | None"]]

Groups = Callable[[list[RequestObservation]], list[tuple[str, str, list[RequestObservation]]]]

AVAILABLE: Final = _spanscan is not None
accumulate_many: Final[AccumulateMany | None] = None if _spanscan is None else _spanscan.accumulate_many
group_by_labels: Final[Groups | None] = None if _spanscan is None else _spanscan.group_by_labels


def span_reader(config: SpanContextConfig) -> SpanReader | None:
    """The C reader for this label configuration (observe_span's rules, compiled once)."""
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
    reader: SpanReader = _spanscan.Reader(tuple(attributes), labels, _TPOT_KEYS, config.default_model,
                                          config.default_tenant, RequestObservation)
    return reader
