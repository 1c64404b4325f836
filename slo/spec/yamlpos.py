"""YAML documents with the line of every key, so spec errors can say file:line.

PyYAML's composer gives node marks; we walk the node tree once, building plain Python data and a
map from field path (`("slos", 0, "sli")`) to line. Duplicate keys, which PyYAML silently keeps
the last of, are reported as problems.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from slo.spec.errors import Problem

Path = tuple[str | int, ...]
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


@dataclass
class Document:
    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """Line of the deepest existing prefix of `path` (a missing field points at its parent)."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return line
        return 1


def field_name(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_documents(text: str, file: str) -> Iterator[Document]:
    """Yield one Document per YAML document; a YAML syntax error raises a located Problem list."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = Document(file, None)
            doc.lines[()] = node.start_mark.line + 1
            doc.data = _build(loader, node, (), doc)
            yield doc
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, doc: Document) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            child: Path = (*path, key if isinstance(key, str | int) else str(key))
            if key in out:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, field_name(child),
                                            "duplicate key; YAML would silently keep only the last one"))
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            doc.lines[child] = item.start_mark.line + 1
            items.append(_build(loader, item, child, doc))
        return items
    return loader.construct_object(node, deep=True)
