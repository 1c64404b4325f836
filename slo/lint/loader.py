"""Load YAML and JSON into plain data plus a way to find the line of any value.

Every error becomes a `LoadError` with a file, line and column; nothing here raises anything
else, whatever the bytes (a property test feeds it random bytes). YAML positions come from the
composed node tree; JSON positions from an index of where each object key occurs, which is
built only when a finding needs a line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from slo.lint import fastyaml

Path_ = tuple[str | int, ...]

try:
    _YamlLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - libyaml is in the wheels we use
    _YamlLoader = yaml.SafeLoader


class LoadError(Exception):
    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass
class Document:
    """One parsed document: its data, and the line/column of any path into it (1-based)."""

    path: str
    text: str
    data: Any
    fmt: str  # "yaml" or "json"
    index: int = 0  # position in a multi-document YAML stream
    _positions: dict[Path_, tuple[int, int]] | None = field(default=None, repr=False)
    _block_scalars: frozenset[Path_] = frozenset()

    def locate(self, path: Path_) -> tuple[int, int]:
        """Line and column of the value at `path`, or of its nearest located ancestor."""
        positions = self._positions
        if positions is None:
            positions = self._positions = _json_positions(self.text, self.data)
        p = path
        while p:
            if p in positions:
                return positions[p]
            p = p[:-1]
        return positions.get((), (1, 1))

    def is_block_scalar(self, path: Path_) -> bool:
        """True when the value is a YAML `|`/`>` block: its text starts on the next line."""
        return path in self._block_scalars


@dataclass
class EmbeddedDocument(Document):
    """A document carried as a string inside another (a dashboard in a ConfigMap's data): every
    location is the line of the key that carries it."""

    anchor: tuple[int, int] = (1, 1)

    def locate(self, path: Path_) -> tuple[int, int]:
        return self.anchor


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise LoadError(f"cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line) from None


# ---------------------------------------------------------------- YAML

_constructor = yaml.constructor.SafeConstructor()


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag == _STR_TAG:
        return node.value  # the composer already resolved it: no constructor round-trip
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return node.value


def _convert(
    node: yaml.Node,
    path: Path_,
    positions: dict[Path_, tuple[int, int]],
    blocks: set[Path_],
    depth: int = 0,
) -> Any:
    if depth > 200:
        raise LoadError("nesting deeper than 200 levels", node.start_mark.line + 1)
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):
            blocks.add(path)
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), positions, blocks, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are rare in rule files; their keys stay unresolved
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            skey = key if isinstance(key, str | int) else str(key)
            out[skey] = _convert(value_node, (*path, skey), positions, blocks, depth + 1)
            if value_node.start_mark.line != key_node.start_mark.line or isinstance(value_node, yaml.ScalarNode):
                # a key's own line is where users look, and where its suppression comment goes
                positions[(*path, skey)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    raise LoadError(f"unsupported YAML node {type(node).__name__}", node.start_mark.line + 1)


def _yaml_error(exc: yaml.YAMLError) -> LoadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return LoadError(message)
    return LoadError(message, mark.line + 1, mark.column + 1)


def load_yaml(path: str, text: str) -> list[Document]:
    """All documents of a YAML stream (empty documents dropped)."""
    fast = fastyaml.parse(text)
    if fast is not None:
        data, fast_positions, fast_blocks = fast
        return [] if data is None else [Document(path, text, data, "yaml", 0, fast_positions, frozenset(fast_blocks))]
    docs: list[Document] = []
    try:
        loader = _YamlLoader(text)
        try:
            index = 0
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                positions: dict[Path_, tuple[int, int]] = {}
                blocks: set[Path_] = set()
                data = _convert(node, (), positions, blocks)
                docs.append(Document(path, text, data, "yaml", index, positions, frozenset(blocks)))
                index += 1
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except RecursionError:
        raise LoadError("nesting too deep") from None
    return [d for d in docs if d.data is not None]


# ---------------------------------------------------------------- JSON

_JSON_KEY = re.compile(r'(?<!\\)"((?:[^"\\\n]|\\.)*)"\s*:')


def load_json(path: str, text: str) -> Document:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise LoadError("nesting too deep") from None
    return Document(path, text, data, "json")


def _json_positions(text: str, data: Any) -> dict[Path_, tuple[int, int]]:
    """Key k's n-th occurrence in the text is the n-th time a document-order walk meets key k."""
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    occurrences: dict[str, list[int]] = {}
    for m in _JSON_KEY.finditer(text):
        try:
            key = json.loads(f'"{m.group(1)}"')
        except json.JSONDecodeError:
            continue
        occurrences.setdefault(key, []).append(m.start())
    cursors: dict[str, Iterator[int]] = {k: iter(v) for k, v in occurrences.items()}
    positions: dict[Path_, tuple[int, int]] = {(): (1, 1)}

    def line_col(offset: int) -> tuple[int, int]:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - starts[lo] + 1

    def walk(value: Any, path: Path_, depth: int) -> None:
        if depth > 500:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                offset = next(cursors.get(k, iter(())), None)
                if offset is not None:
                    positions[(*path, k)] = line_col(offset)
                walk(v, (*path, k), depth + 1)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i), depth + 1)

    walk(data, (), 0)
    return positions


_PROMTOOL_TEST = re.compile(r"^rule_files:", re.M)


def load_file(path: str) -> list[Document]:
    """Load by extension: .json is JSON, anything else YAML. `promtool test rules` files are
    promtool's to check (and large): they are not parsed."""
    text = read_text(path)
    if "rule_files:" in text and _PROMTOOL_TEST.search(text) and re.search(r"^tests:", text, re.M):
        return []
    if path.endswith(".json"):
        return [load_json(path, text)]
    return load_yaml(path, text)
