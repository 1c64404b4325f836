"""The span hot path at C speed: span layouts learnt once, then matched by one compiled regex each.

Reading a dozen attributes through protobuf objects (or even as raw `KeyValue` bytes) costs
several Python objects and bytecodes per attribute, which was most of the collector's time. But
vLLM writes every `llm_request` span the same way: the same fields and attributes in the same
order, only values and some lengths differ. So when a span has gone through the exact path
(`collector.spans.observe_span`), its layout is turned into a regular expression that matches the
whole encoded span field by field, capturing the values we read. Later spans with that layout
are read by one `fullmatch` and a few C-level calls.

It is exact, not heuristic. A layout pattern spells out every byte of the span except values:
every tag, every length byte (variable lengths are enumerated, each alternative consistent with
its content), every attribute key, and the type of every attribute value. A span that matches
therefore has exactly these fields, these attributes and these value types, and the captured
bytes are exactly the values protobuf would decode. Anything else (another layout, an attribute
name twice, a value that `observe_span` would reject, a length over 127) does not match or is
refused here, and goes the exact way.

The span bytes were already accepted by the full protobuf decode (`receiver.decode`).
"""

from __future__ import annotations

import math
import re
import struct
import threading
from collections.abc import Callable
from typing import Final

from collector.litepb import _varint
from collector.spans import _TPOT_KEYS, _WANTED, DEPRECATED_ALIASES, SPAN_NAME, RequestObservation, SpanContextConfig

MAX_LAYOUTS: Final = 16  # distinct span layouts kept (vLLM: one or two)
MAX_FAILED_LEARNS: Final = 256  # spans seen whose layout could not be learnt; then stop trying
_INF: Final = math.inf
_VARINT: Final = rb"[\x80-\xff]{0,9}[\x00-\x7f]"
_NAME: Final = SPAN_NAME.encode()


class _NotLearnable(Exception):
    pass


def _b(*values: int) -> bytes:
    return re.escape(bytes(values))


def _lengths(first: int, body: Callable[[int], bytes | None], max_len: int = 127) -> bytes:
    """Alternatives over a one-byte length n, each followed by its exact body; the length seen
    when learning comes first (the usual one)."""
    order = [first] + [n for n in range(max_len + 1) if n != first]
    parts = [p for p in (body(n) for n in order) if p is not None]
    return b"(?:" + b"|".join(parts) + b")"


def _opaque(n: int) -> bytes:
    return _b(n) + (b".{%d}" % n if n else b"")


_Reader = Callable[[tuple[bytes, ...], str, str], "RequestObservation | None"]


class _Layout:
    __slots__ = ("fullmatch", "pattern", "read")

    def __init__(self, pattern: bytes, read: _Reader) -> None:
        self.pattern = pattern
        self.fullmatch = re.compile(pattern, re.DOTALL).fullmatch
        self.read = read


class _Builder:
    def __init__(self, model_keys: frozenset[str], tenant_keys: frozenset[str]) -> None:
        self.parts: list[bytes] = []
        self.groups = 0
        self.model_keys = model_keys
        self.tenant_keys = tenant_keys
        self.double_groups: list[int] = []
        self.double_keys: list[str] = []
        self.ints: list[tuple[int, int, int, tuple[str, ...]]] = []
        self.labels: list[tuple[int, int, bool, bool]] = []
        self.trace = self.span = self.end = -1
        self.read: set[str] = set()

    def group(self, pattern: bytes) -> int:
        self.groups += 1
        self.parts.append(b"(" + pattern + b")")
        return self.groups - 1

    def add(self, pattern: bytes) -> None:
        self.parts.append(pattern)

    def attribute(self, kv: bytes, field_len: int) -> None:
        # the usual layout only: 0x0a K key 0x12 V <one AnyValue field>, all lengths one byte
        if len(kv) < 4 or kv[0] != 0x0A or kv[1] >= 0x80:
            raise _NotLearnable
        k = kv[1]
        key = kv[2:2 + k]
        rest = kv[2 + k:]
        if len(rest) < 3 or rest[0] != 0x12 or rest[1] != len(rest) - 2:
            raise _NotLearnable
        value = rest[2:]
        head = _b(0x0A, k) + re.escape(key) + _b(0x12)
        tag = value[0]
        slot = _WANTED.get(key)
        name = key.decode("utf-8", "replace")
        if slot is not None:
            sli_keys, whole, alias, attribute = slot
            catalog = DEPRECATED_ALIASES[attribute] if alias else attribute
            if catalog in self.read:
                raise _NotLearnable  # twice, or both spellings: observe_span's precedence rules
            self.read.add(catalog)
            if tag == 0x21 and len(value) == 9 and not whole:
                self.add(_b(0x4A, field_len) + head + _b(0x09, 0x21))
                self.double_groups.append(self.group(b".{8}"))
                self.double_keys.append(sli_keys[0])
                if len(sli_keys) != 1:
                    raise _NotLearnable
            elif tag == 0x18:
                alternatives = []
                groups = []
                for vl in (1, 2, 3):
                    if 2 + k + 2 + 1 + vl < 128:
                        self.groups += 1
                        groups.append(self.groups - 1)
                        alternatives.append(_b(0x4A, 2 + k + 3 + vl) + head + _b(1 + vl, 0x18)
                                            + b"([\\x80-\\xff]{%d}[\\x00-\\x7f])" % (vl - 1))
                if len(groups) != 3:
                    raise _NotLearnable
                self.add(b"(?:" + b"|".join(alternatives) + b")")
                self.ints.append((groups[0], groups[1], groups[2], sli_keys))
            else:
                raise _NotLearnable
            return
        is_model = name in self.model_keys
        is_tenant = name in self.tenant_keys
        if tag == 0x0A:  # a string: any length up to what one length byte allows
            def body(s: int) -> bytes | None:
                total = 2 + k + 2 + 2 + s
                return _b(total) + head + _b(s + 2, 0x0A, s) + (b".{%d}" % s if s else b"") if total < 128 else None
            choices = _lengths(value[1], body)
            if is_model or is_tenant:  # the text starts after 0x4a L 0x0a K key 0x12 V 0x0a S
                self.labels.append((self.group(_b(0x4A) + choices), 8 + k, is_model, is_tenant))
            else:
                self.add(_b(0x4A) + choices)
            return
        if is_model or is_tenant:
            raise _NotLearnable  # a label attribute that is not a string: rare, left to observe_span
        if tag == 0x21 and len(value) == 9:
            self.add(_b(0x4A, field_len) + head + _b(0x09, 0x21) + b".{8}")
        elif tag in (0x18, 0x10):  # int or bool
            self.add(b"(?:" + b"|".join(_b(0x4A, 2 + k + 3 + vl) + head + _b(1 + vl, tag)
                                         + b"[\\x80-\\xff]{%d}[\\x00-\\x7f]" % (vl - 1)
                                         for vl in range(1, 11) if 2 + k + 3 + vl < 128) + b")")
        else:
            raise _NotLearnable

    def reader(self, config: SpanContextConfig) -> _Reader:
        """A function specialised to this layout (generated source: straight-line code, no loops
        over attributes), taking `Match.groups()`; None where observe_span must decide."""
        if not self.double_groups and not self.ints:
            raise _NotLearnable
        lines = ["def read(g, resource_model, resource_tenant):"]
        variables: dict[str, str] = {}
        names = [f"d{i}" for i in range(len(self.double_groups))]
        if names:
            joined = "b''.join((" + "".join(f"g[{i}], " for i in self.double_groups) + "))"
            lines.append(f"    {', '.join(names)}, = unpack({joined})")
            checks = " and ".join(f"0 <= {n} < inf" for n in names)
            lines.append(f"    if not ({checks}):")
            lines.append("        return None")
            variables.update(zip(self.double_keys, names, strict=True))
        for i, (a, b, c, keys) in enumerate(self.ints):
            lines.append(f"    n{i} = g[{a}] or g[{b}] or g[{c}]")
            lines.append(f"    n{i} = n{i}[0] if len(n{i}) == 1 else varint(n{i}, 0)[0]")
            variables.update(dict.fromkeys(keys, f"n{i}"))
        items = ", ".join(f"{k!r}: {v}" for k, v in variables.items())
        lines.append(f"    values = {{{items}}}")
        for sli_key, numerator, count_key in _TPOT_KEYS:
            if numerator in variables and count_key in variables:
                lines.append(f"    if {variables[count_key]} >= 2:")
                lines.append(f"        values[{sli_key!r}] = {variables[numerator]} / ({variables[count_key]} - 1)")
        lines.append("    model = tenant = ''")
        for group, offset, is_model, is_tenant in self.labels:
            lines.append(f"    t = g[{group}][{offset}:]")
            lines.append("    if t:")
            if is_model:
                lines.append("        if not model:")
                lines.append("            model = t.decode('utf-8', 'replace')")
            if is_tenant:
                lines.append("        if not tenant:")
                lines.append("            tenant = t.decode('utf-8', 'replace')")
        trace = f"g[{self.trace}]" if self.trace >= 0 else "b''"
        span = f"g[{self.span}]" if self.span >= 0 else "b''"
        end = f"int.from_bytes(g[{self.end}], 'little')" if self.end >= 0 else "0"
        # tuple.__new__ directly: a NamedTuple's own __new__ is a Python function
        lines.append(f"    return new(Observation, (model or resource_model or {config.default_model!r}, "
                     f"tenant or resource_tenant or {config.default_tenant!r}, values, {trace}, {span}, {end}))")
        namespace = {"unpack": struct.Struct(f"<{len(names)}d").unpack, "inf": _INF, "varint": _varint,
                     "Observation": RequestObservation, "new": tuple.__new__}
        exec(compile("\n".join(lines), "<llmslo span layout>", "exec"), namespace)
        read: _Reader = namespace["read"]  # type: ignore[assignment]
        return read


def learn(span: bytes, config: SpanContextConfig) -> _Layout | None:
    """The layout pattern of one encoded span, or None when it is not a plain one."""
    b = _Builder(frozenset(config.model_attributes), frozenset(config.tenant_attributes))
    seen: set[int] = set()
    i = 0
    n = len(span)
    try:
        while i < n:
            tag, j = _varint(span, i)
            number, wire = tag >> 3, tag & 7
            if number in seen and number != 9:
                raise _NotLearnable  # a singular field twice: last one wins; left to observe_span
            seen.add(number)
            if wire == 2:
                length, start = _varint(span, j)
                if start != j + 1 or j != i + 1:
                    raise _NotLearnable  # tag or length over one byte
                payload = span[start:start + length]
                i = start + length
                if number == 1 and length == 16:
                    b.add(_b(0x0A, 0x10))
                    b.trace = b.group(b".{16}")
                elif number == 2 and length == 8:
                    b.add(_b(0x12, 0x08))
                    b.span = b.group(b".{8}")
                elif number == 5:
                    if payload != _NAME:
                        raise _NotLearnable
                    b.add(_b(0x2A, len(_NAME)) + re.escape(_NAME))
                elif number in (3, 4, 13, 15):  # trace_state, parent_span_id, links, status: opaque
                    b.add(_b(tag) + _lengths(length, _opaque))
                elif number == 9:
                    b.attribute(payload, length)
                else:
                    raise _NotLearnable
            elif wire == 0 and number in (6, 10, 12, 14) and j == i + 1:
                _, i = _varint(span, j)
                b.add(_b(tag) + _VARINT)
            elif wire == 1 and number in (7, 8) and j == i + 1:
                i = j + 8
                if number == 8:
                    b.add(_b(0x41))
                    b.end = b.group(b".{8}")
                else:
                    b.add(_b(0x39) + b".{8}")
            elif wire == 5 and number == 16 and j == i + 2:
                i = j + 4
                b.add(_b(0x85, 0x01) + b".{4}")
            else:
                raise _NotLearnable
        if i != n or 5 not in seen:
            raise _NotLearnable
        return _Layout(b"".join(b.parts), b.reader(config))
    except (_NotLearnable, IndexError, UnicodeDecodeError):
        return None


class FastSpans:
    """Learnt layouts for one label configuration. `observe` is safe to call from several threads."""

    def __init__(self, config: SpanContextConfig) -> None:
        self._config = config
        self._layouts: tuple[_Layout, ...] = ()
        self._failed = 0
        self._lock = threading.Lock()

    @property
    def layouts(self) -> int:
        return len(self._layouts)

    def learn(self, span: bytes) -> None:
        """Called with a span that `observe_span` accepted and `observe` did not match."""
        if len(self._layouts) >= MAX_LAYOUTS or self._failed >= MAX_FAILED_LEARNS:
            return
        layout = learn(span, self._config)
        with self._lock:
            if layout is None:
                self._failed += 1
            elif any(known.pattern == layout.pattern for known in self._layouts):
                pass  # known; this span's values lie outside it (say a token count over 2**21)
            elif len(self._layouts) < MAX_LAYOUTS:
                self._layouts = (layout, *self._layouts)

    def observe(self, span: bytes, resource_model: str, resource_tenant: str) -> RequestObservation | None:
        """The span's observation when a learnt layout matches and every value is acceptable; None
        means: ask `observe_span`."""
        for layout in self._layouts:
            m = layout.fullmatch(span)
            if m is not None:
                return layout.read(m.groups(), resource_model, resource_tenant)
        return None
