"""A fast path for the block-style YAML that rule files, specs and generated artifacts are
written in: plain, quoted and literal-block scalars in nested block mappings and sequences.

PyYAML (even with libyaml) spends most of its time constructing Python objects in Python; a
rules file for 1,000 SLOs is 10 MB. This parser reads that subset line by line and returns
exactly what `yaml.safe_load` returns, with the line of every key; on anything outside the subset
(flow collections, anchors, tags, folded or multi-line scalars, tabs, several documents, anything
it does not recognise) it returns None and the caller uses PyYAML, which also produces the error
messages for broken input. A property test holds it to PyYAML's result."""

from __future__ import annotations

import re
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class _Fallback(Exception):
    pass


_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*)[ ]*:(?:[ ]+|$)")
_PLAIN_SPECIAL_START = frozenset("&*!{}[]|>%@`?,#'\"")
# Plain scalars PyYAML would not read as a string (int, float, bool, null, timestamp): let it decide.
_MAYBE_TYPED = re.compile(r"^(?:[-+]?[0-9._]|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|~$|null$|Null$|NULL$|"
                          r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$|"
                          r"<<$|=$)")


class _Lines:
    def __init__(self, text: str) -> None:
        if "\t" in text or "\r" in text:
            raise _Fallback
        self.raw = raw = text.split("\n")
        self.body = body = [line.lstrip(" ") for line in raw]
        self.indent = [len(line) - len(b) for line, b in zip(raw, body, strict=True)]
        # next_content[i]: the first line at or after i that is neither blank nor a comment
        n = len(raw)
        nxt = [n] * (n + 1)
        following = n
        for i in range(n - 1, -1, -1):
            b = body[i]
            if b and b[0] != "#":
                following = i
            nxt[i] = following
        self.next_content = nxt

    def skip(self, i: int) -> int:
        return self.next_content[i] if i < len(self.next_content) else i


def _scalar(text: str) -> Any:
    """One single-line scalar (the part after `key: ` or `- `), comment included."""
    if not text:
        return None
    first = text[0]
    if first == "'":
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise _Fallback
            if end + 1 < len(text) and text[end + 1] == "'":
                end += 2
                continue
            break
        rest = text[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise _Fallback
        return text[1:end].replace("''", "'")
    if first == '"':
        end = text.find('"', 1)
        if end < 0 or "\\" in text[:end]:
            raise _Fallback
        rest = text[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise _Fallback
        return text[1:end]
    if first in _PLAIN_SPECIAL_START or text.startswith(("- ", "-\n")) or text == "-":
        raise _Fallback
    hash_at = text.find(" #")
    if hash_at >= 0:
        text = text[:hash_at]
    value = text.rstrip(" ")
    if ": " in value or value.endswith(":"):
        raise _Fallback
    if _MAYBE_TYPED.match(value):
        return _resolve(value)
    return value


_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_CONSTRUCT = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"


def _resolve(value: str) -> Any:
    """A plain scalar as PyYAML's implicit resolvers and safe constructors read it."""
    for tag, regexp in _RESOLVERS.get(value[:1], []):
        if regexp.match(value):
            if tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml"):
                raise _Fallback
            return _CONSTRUCT.construct_object(yaml.ScalarNode(tag, value), deep=True)
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = _Lines(text)
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.blocks: set[Path_] = set()

    def document(self) -> Any:
        lines = self.lines
        i = lines.skip(0)
        if i < len(lines.raw) and lines.body[i].startswith("---"):
            if lines.body[i].strip() != "---":
                raise _Fallback
            i = lines.skip(i + 1)
        if i >= len(lines.raw):
            return None
        self.positions[()] = (i + 1, lines.indent[i] + 1)
        value, i = self.node(i, lines.indent[i], ())
        if lines.skip(i) < len(lines.raw):
            raise _Fallback  # trailing content: a second document, or a line we did not place
        return value

    def node(self, i: int, indent: int, path: Path_) -> tuple[Any, int]:
        body = self.lines.body[i]
        if body == "-" or body.startswith("- "):
            return self.sequence(i, indent, path)
        if _KEY.match(body):
            return self.mapping(i, indent, path)
        raise _Fallback

    def value_after(self, rest: str, i: int, indent: int, path: Path_, seq_parent: bool) -> tuple[Any, int]:
        """The value of a key (or sequence item) whose text after the indicator is `rest`."""
        lines = self.lines
        if rest.startswith("#"):
            rest = ""
        if rest:
            if rest[0] == "|":
                return self.literal(rest, i, indent, path)
            value = _scalar(rest)
            nxt = lines.skip(i + 1)
            if nxt < len(lines.raw) and lines.indent[nxt] > indent and not seq_parent:
                raise _Fallback  # a multi-line scalar, or a nested node after a scalar
            return value, i + 1
        nxt = lines.skip(i + 1)
        if nxt >= len(lines.raw):
            return None, nxt
        child = lines.indent[nxt]
        body = lines.body[nxt]
        if child > indent:
            return self.node(nxt, child, path)
        if child == indent and not seq_parent and (body == "-" or body.startswith("- ")):
            return self.sequence(nxt, indent, path)  # an indentless sequence under a key
        return None, i + 1

    def literal(self, header: str, i: int, indent: int, path: Path_) -> tuple[str, int]:
        header = header.split(" #", 1)[0].rstrip()
        if header not in ("|", "|-"):
            raise _Fallback
        lines = self.lines
        self.blocks.add(path)
        j = i + 1
        content: list[str] = []
        block_indent = -1
        n = len(lines.raw)
        while j < n:
            body = lines.body[j]
            if not body:
                content.append("")
                j += 1
                continue
            if lines.indent[j] <= indent:
                break
            if block_indent < 0:
                block_indent = lines.indent[j]
            elif lines.indent[j] < block_indent:
                raise _Fallback
            content.append(lines.raw[j][block_indent:])
            j += 1
        while content and content[-1] == "":
            content.pop()
        text = "\n".join(content)
        if header == "|" and content:
            text += "\n"
        return text, j

    def mapping(self, i: int, indent: int, path: Path_) -> tuple[dict[str, Any], int]:
        lines = self.lines
        indents, bodies, nxt = lines.indent, lines.body, lines.next_content
        positions = self.positions
        key_match, typed = _KEY.match, _MAYBE_TYPED.match
        out: dict[str, Any] = {}
        n = len(bodies)
        while i < n:
            if indents[i] != indent:
                if indents[i] > indent:
                    raise _Fallback
                break
            body = bodies[i]
            m = key_match(body)
            if m is None:
                if body == "-" or body.startswith("- "):
                    break  # the enclosing indentless sequence continues
                raise _Fallback
            key = m.group(1)
            if typed(key):
                raise _Fallback  # `1:` or `yes:` keys are not strings to PyYAML
            here = (*path, key)
            positions[here] = (i + 1, indent + 1)
            rest = body[m.end():]
            if rest and rest[0] not in "|#":
                # the common case, a one-line scalar: inlined from value_after
                out[key] = _scalar(rest)
                i = nxt[i + 1]
                if i < n and indents[i] > indent:
                    raise _Fallback  # a multi-line scalar, or a nested node after a scalar
                continue
            out[key], i = self.value_after(rest, i, indent, here, False)
            i = nxt[i] if i < n else i
        return out, i

    def sequence(self, i: int, indent: int, path: Path_) -> tuple[list[Any], int]:
        lines = self.lines
        out: list[Any] = []
        n = len(lines.raw)
        while i < n and lines.indent[i] == indent:
            body = lines.body[i]
            if body != "-" and not body.startswith("- "):
                break
            here = (*path, len(out))
            rest = body[2:].lstrip(" ") if len(body) > 1 else ""
            col = indent + (len(body) - len(rest))
            self.positions[here] = (i + 1, col + 1)
            if rest and _KEY.match(rest):
                # `- key: value`: a mapping whose first key sits on the dash line
                lines.indent[i], lines.body[i] = col, rest
                value, i = self.mapping(i, col, here)
                out.append(value)
            elif rest.startswith("- ") or rest == "-":
                raise _Fallback
            else:
                value, i = self.value_after(rest, i, indent, here, True)
                if rest and i < n and lines.skip(i) < n and lines.indent[lines.skip(i)] > indent:
                    raise _Fallback
                out.append(value)
            i = lines.skip(i)
        if i < n and lines.indent[i] > indent:
            raise _Fallback
        return out, i


def parse(text: str) -> tuple[Any, dict[Path_, tuple[int, int]], set[Path_]] | None:
    """(data, positions, block-scalar paths), or None when the text is outside the subset."""
    try:
        parser = _Parser(text)
        data = parser.document()
    except (_Fallback, yaml.YAMLError, RecursionError, IndexError):
        return None
    return data, parser.positions, parser.blocks
