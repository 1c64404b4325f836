"""A lean view of OTLP trace exports for the hot path: the same wire format, fewer objects.

Reading an attribute through the full generated classes builds a Python wrapper for every
`KeyValue` and every `AnyValue`, which costs several times more than the protobuf decode itself.
These message types are wire-compatible subsets of the OTLP ones (same field numbers and wire
types) in which the `attributes` fields are declared `repeated bytes`: upb hands back each
`KeyValue`'s encoding as one bytes object, split here into key and `AnyValue` bytes, and the value
is decoded only for the attributes the collector reads. Undeclared fields are skipped.

The full message is still parsed first (`receiver.decode`), so malformed input is rejected with a
400 exactly as before; this view only ever sees bytes that are a valid OTLP export.
"""

from __future__ import annotations

import importlib
import struct
from typing import Any, Final

_descriptor_pb2: Any = importlib.import_module("google.protobuf.descriptor_pb2")
_descriptor_pool: Any = importlib.import_module("google.protobuf.descriptor_pool")
_message_factory: Any = importlib.import_module("google.protobuf.message_factory")

_PACKAGE: Final = "llmslo.lite"
_T = _descriptor_pb2.FieldDescriptorProto


def _build() -> dict[str, Any]:
    f = _descriptor_pb2.FileDescriptorProto(name="llmslo_lite_trace.proto", package=_PACKAGE, syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        m = f.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"

    opt, rep = _T.LABEL_OPTIONAL, _T.LABEL_REPEATED
    message("Resource", [("attributes", 1, _T.TYPE_BYTES, rep, "")])
    message("Span", [
        ("trace_id", 1, _T.TYPE_BYTES, opt, ""), ("span_id", 2, _T.TYPE_BYTES, opt, ""),
        ("name", 5, _T.TYPE_STRING, opt, ""), ("end_time_unix_nano", 8, _T.TYPE_FIXED64, opt, ""),
        ("attributes", 9, _T.TYPE_BYTES, rep, ""),
    ])
    message("ScopeSpans", [("spans", 2, _T.TYPE_MESSAGE, rep, "Span")])
    message("ResourceSpans", [("resource", 1, _T.TYPE_MESSAGE, opt, "Resource"),
                              ("scope_spans", 2, _T.TYPE_MESSAGE, rep, "ScopeSpans")])
    message("ExportTraceServiceRequest", [("resource_spans", 1, _T.TYPE_MESSAGE, rep, "ResourceSpans")])
    # The same export with every span left as its encoding (collector.fastspans scans those bytes).
    message("RawScopeSpans", [("spans", 2, _T.TYPE_BYTES, rep, "")])
    message("RawResourceSpans", [("resource", 1, _T.TYPE_MESSAGE, opt, "Resource"),
                                 ("scope_spans", 2, _T.TYPE_MESSAGE, rep, "RawScopeSpans")])
    message("RawExportTraceServiceRequest", [("resource_spans", 1, _T.TYPE_MESSAGE, rep, "RawResourceSpans")])
    pool = _descriptor_pool.DescriptorPool()
    pool.Add(f)
    return {
        name: _message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("ExportTraceServiceRequest", "RawExportTraceServiceRequest", "Span")
    }


_CLASSES: Final = _build()
LiteTraceRequest: Final[Any] = _CLASSES["ExportTraceServiceRequest"]
RawTraceRequest: Final[Any] = _CLASSES["RawExportTraceServiceRequest"]
LiteSpan: Final[Any] = _CLASSES["Span"]

_DOUBLE: Final = struct.Struct("<d")
STRING: Final = "string_value"
BOOL: Final = "bool_value"
INT: Final = "int_value"
DOUBLE: Final = "double_value"
_LENGTH_KINDS: Final = {1: STRING, 5: "array_value", 6: "kvlist_value", 7: "bytes_value"}


def _varint(b: bytes, i: int) -> tuple[int, int]:
    """A varint as protobuf reads it: bits past the 64th are dropped (upb does the same)."""
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, i
        shift += 7


def any_value(b: bytes) -> tuple[str | None, Any]:
    """(oneof name, value) of an encoded `AnyValue`; (None, None) when unset. As in protobuf, the
    last oneof member on the wire wins."""
    if len(b) == 9 and b[0] == 0x21:  # the common case: one double
        return DOUBLE, _DOUBLE.unpack_from(b, 1)[0]
    kind: str | None = None
    value: Any = None
    i = 0
    n = len(b)
    while i < n:
        tag, i = _varint(b, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            raw, i = _varint(b, i)
            if number == 3:
                kind, value = INT, raw - (1 << 64) if raw >= 1 << 63 else raw
            elif number == 2:
                kind, value = BOOL, bool(raw)
        elif wire == 1:
            if number == 4:
                kind, value = DOUBLE, _DOUBLE.unpack_from(b, i)[0]
            i += 8
        elif wire == 2:
            length, i = _varint(b, i)
            if number in _LENGTH_KINDS:
                kind = _LENGTH_KINDS[number]
                value = b[i:i + length].decode("utf-8", "replace") if number == 1 else None
            i += length
        elif wire == 5:
            i += 4
        else:  # groups never occur in OTLP; the full decode already accepted these bytes
            break
    return kind, value


def split_key_value(kv: bytes) -> tuple[bytes, bytes]:
    """(key as UTF-8 bytes, `AnyValue` bytes) of an encoded `KeyValue`. Handles any field order and
    repeats the way protobuf does: the last `key` wins, `value` occurrences merge (for a message,
    concatenating the encodings is exactly a merge)."""
    size = len(kv)
    if size >= 2 and kv[0] == 0x0A and kv[1] < 0x80:  # the usual layout: key, then value
        end = 2 + kv[1]
        if end == size:
            return kv[2:end], b""
        if end + 2 <= size and kv[end] == 0x12 and kv[end + 1] < 0x80 and end + 2 + kv[end + 1] == size:
            return kv[2:end], kv[end + 2:]
    key = b""
    values: list[bytes] = []
    i = 0
    while i < size:
        tag, i = _varint(kv, i)
        wire = tag & 7
        if wire == 2:
            length, i = _varint(kv, i)
            if tag >> 3 == 1:
                key = kv[i:i + length]
            elif tag >> 3 == 2:
                values.append(kv[i:i + length])
            i += length
        elif wire == 0:
            _, i = _varint(kv, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            break
    return key, b"".join(values)
