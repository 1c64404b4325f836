"""Check a dashboard against Grafana's dashboard model (grafana-foundation-sdk's generated types).

Three checks, each returning located problems (`panels[3].fieldConfig.defaults.unitt: ...`):
- round trip: the JSON is decoded into the SDK's `Dashboard` and encoded back; a field the model does
  not know is lost on the way, so anything of ours missing afterwards is an unknown field;
- types: every decoded field is checked against the SDK's annotations (enums, literals, primitives);
- structure: unique panel ids and refIds, panels inside the 24-column grid without overlaps, every
  `$variable` a query uses defined by the dashboard, every panel with a description.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as sdk

# Variables Grafana itself provides to queries.
BUILTIN_VARIABLES = frozenset({"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                               "__range_ms", "__from", "__to", "__dashboard", "__name"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_registered = False


def _sdk_roundtrip(board: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    global _registered
    if not _registered:
        register_default_plugins()
        _registered = True
    decoded = sdk.Dashboard.from_json(board)
    back: dict[str, Any] = json.loads(json.dumps(decoded, cls=JSONEncoder))
    return decoded, back


def _missing(ours: Any, theirs: Any, path: str) -> Iterator[str]:
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            yield f"{path}: the model expects {type(theirs).__name__}, got an object"
            return
        for key, value in ours.items():
            where = f"{path}.{key}" if path else key
            if key not in theirs:
                yield f"{where}: not a field of Grafana's dashboard model"
            else:
                yield from _missing(value, theirs[key], where)
    elif isinstance(ours, list):
        if not isinstance(theirs, list) or len(theirs) != len(ours):
            yield f"{path}: list changed in the round trip"
            return
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            yield from _missing(a, b, f"{path}[{i}]")
    elif ours != theirs:
        yield f"{path}: {ours!r} became {theirs!r} in the round trip"


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is object:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (list, dict):
        return isinstance(value, origin)
    if hint is type(None):
        return value is None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {m.value for m in hint}
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _types(obj: Any, path: str) -> Iterator[str]:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _types(item, f"{path}[{i}]")
        return
    module = getattr(type(obj), "__module__", "")
    if not module.startswith("grafana_foundation_sdk.models"):
        return
    try:
        hints = typing.get_type_hints(type(obj))
    except (NameError, TypeError):
        return
    for name, hint in hints.items():
        value = getattr(obj, name, None)
        where = f"{path}.{name}" if path else name
        if value is not None and not _type_ok(value, hint):
            yield f"{where}: {value!r} is not a valid {hint}"
        yield from _types(value, where)


def _panels(board: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, panel in enumerate(board.get("panels", [])):
        yield f"panels[{i}]", panel
        for j, inner in enumerate(panel.get("panels", [])):
            yield f"panels[{i}].panels[{j}]", inner


def _structure(board: dict[str, Any]) -> Iterator[str]:
    defined = {v.get("name") for v in board.get("templating", {}).get("list", [])} | BUILTIN_VARIABLES
    ids: dict[Any, str] = {}
    cells: dict[tuple[int, int], str] = {}
    for where, panel in _panels(board):
        pid = panel.get("id")
        if pid in ids:
            yield f"{where}.id: {pid} already used by {ids[pid]}"
        ids[pid] = where
        pos = panel.get("gridPos", {})
        x, y, w, h = (pos.get(k, -1) for k in ("x", "y", "w", "h"))
        if x < 0 or w < 1 or x + w > 24 or h < 1 or y < 0:
            yield f"{where}.gridPos: {pos} is outside the 24-column grid"
        for cx in range(max(x, 0), min(x + w, 24)):
            for cy in range(max(y, 0), y + max(h, 0)):
                if (cx, cy) in cells and panel.get("type") != "row":
                    yield f"{where}.gridPos: overlaps {cells[(cx, cy)]}"
                    break
                cells[(cx, cy)] = where
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        if not str(panel.get("description", "")).strip():
            yield f"{where}.description: missing (say what the panel measures)"
        ref_ids = [t.get("refId") for t in panel.get("targets", [])]
        if len(set(ref_ids)) != len(ref_ids):
            yield f"{where}.targets: duplicate refId in {ref_ids}"
        for k, target in enumerate(panel.get("targets", [])):
            for match in _VARIABLE.finditer(str(target.get("expr", ""))):
                name = match.group(1) or match.group(2)
                if name not in defined:
                    yield f"{where}.targets[{k}].expr: ${name} is not a variable of this dashboard"


def validate(board: dict[str, Any]) -> list[str]:
    """Every problem found, located by JSON path; empty when the dashboard fits Grafana's model."""
    try:
        decoded, back = _sdk_roundtrip(board)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"not a Grafana dashboard: {type(exc).__name__}: {exc}"]
    return [*_missing(board, back, ""), *_types(decoded, ""), *_structure(board)]
