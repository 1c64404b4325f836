"""A small, fast YAML emitter for rule files (PyYAML's Python representer took ~10 s for 1,000 SLOs).

Handles exactly what rule files hold: mappings with string keys, lists, strings, ints, floats and
bools. A string is written plain only when a conservative pattern says YAML would read it back as
the same string; multi-line strings become `|-` literal blocks; anything else is double-quoted
with JSON escapes, which YAML reads identically. Tests round-trip arbitrary strings through
yaml.safe_load.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import yaml

_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`<= ")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


@lru_cache(maxsize=65536)
def scalar(value: str) -> str:
    """The inline form of a single-line string."""
    if _plain_ok(value):
        return value
    return _quoted(value)


def _quoted(value: str) -> str:
    """YAML double-quoted: JSON-style escapes, but \\U for characters outside the BMP (YAML has no
    surrogate pairs) and every non-ASCII character escaped, so no Unicode line break slips through."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 32 <= code < 127:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _plain_ok(value: str) -> bool:
    return bool(value) and value[0] not in _INDICATORS and not value.endswith((" ", ":")) \
        and ": " not in value and " #" not in value and value.isprintable() and value.isascii() \
        and _resolve(value) == _STR_TAG


def _resolve(value: str) -> str:
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _key(key: str) -> str:
    text = scalar(key)
    if len(text) > 1000:  # YAML implicit keys end at 1024 characters; rule files only have label names
        raise ValueError(f"mapping key too long for YAML: {key[:40]!r}...")
    return text


def _block(value: str, indent: str) -> str | None:
    """A `|-` block when the text can be one (no trailing spaces, no tabs or leading blanks on line 1)."""
    lines = value.split("\n")
    if value.endswith("\n") or lines[0].startswith(" ") or \
            any(line != line.rstrip(" ") or not (line.isascii() and line.isprintable()) for line in lines):
        return None
    return "|-\n" + "\n".join(f"{indent}{line}" if line else "" for line in lines)


def _value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if "\n" in value:
            block = _block(value, indent)
            if block is not None:
                return block
        return scalar(value)
    raise TypeError(f"cannot emit {type(value).__name__}")


def _emit(data: Any, indent: str, out: list[str]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            k = _key(str(key))
            if isinstance(value, dict) and value:
                out.append(f"{indent}{k}:\n")
                _emit(value, indent + "  ", out)
            elif isinstance(value, list) and value:
                out.append(f"{indent}{k}:\n")
                _emit(value, indent, out)
            elif isinstance(value, dict | list):
                out.append(f"{indent}{k}: {'{}' if isinstance(value, dict) else '[]'}\n")
            else:
                out.append(f"{indent}{k}: {_value(value, indent + '  ')}\n")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _emit(item, indent + "  ", sub)
                first = sub[0]
                out.append(f"{indent}- {first[len(indent) + 2:]}")
                out.extend(sub[1:])
            elif isinstance(item, list) and item:
                out.append(f"{indent}-\n")
                _emit(item, indent + "  ", out)
            else:
                out.append(f"{indent}- {_value(item, indent + '  ')}\n")
    else:
        out.append(f"{indent}{_value(data, indent)}\n")


def dump(data: Any) -> str:
    out: list[str] = []
    _emit(data, "", out)
    return "".join(out)
