"""A fast, tolerant parser for the Prometheus text exposition format 0.0.4.

Why not `prometheus_client.parser`: it raises on the first bad line (one garbled line from a
half-restarted exporter would cost the whole scrape), it cannot skip the families we do not need
(a vLLM scrape is ~600 lines and the SLIs use the `vllm:` ones), and it is several times slower.
This parser never raises: every problem becomes a `ParseError`, the bad line is skipped and every
good line is kept.

Speed comes from three layers. A bounded process-wide cache maps each series head
(`name{labels}`) and each HELP/TYPE line already seen to its parsed form: a collector scrapes the
same server again and again, so in the steady state a sample line costs one `rfind`, one dict
lookup and one `float()`. Lines the cache does not know go through a hand-written scanner
(`str.find`/`str.split`, a regex only to validate each distinct name once), and label sets with
escapes fall back to a character scanner. The cache never changes a result, only its cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample, make_labels
from slo.metrics.write import format_float

__all__ = ["ParseError", "ParseErrorKind", "ParseResult", "clear_cache", "parse_exposition"]


class ParseErrorKind(StrEnum):
    INVALID_LINE = "invalid_line"
    INVALID_LABELS = "invalid_labels"
    INVALID_VALUE = "invalid_value"
    INVALID_METADATA = "invalid_metadata"
    DUPLICATE_SERIES = "duplicate_series"
    TYPE_MISMATCH = "type_mismatch"
    TRUNCATED = "truncated"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class ParseError:
    """One skipped line (or, for EMPTY, the whole text). `line` is 1-based, 0 when no line
    applies; `message` quotes at most 80 characters of the line so a megabyte of garbage on one
    line cannot blow up a log record."""

    kind: ParseErrorKind
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Families in order of first appearance, and every problem met on the way. Callers decide
    whether errors matter: a collector keeps going on a partial scrape, a linter fails."""

    families: Mapping[str, MetricFamily]
    errors: tuple[ParseError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_HELP_ESCAPE = re.compile(r"\\[\\n]")

_TYPES: dict[str, MetricType] = {t.value: t for t in MetricType}
# OpenMetrics spells "untyped" as "unknown"; accepting it costs nothing and such text does occur.
_TYPES["unknown"] = MetricType.UNTYPED

# Roles of a sample name inside its family: bucket and quantile samples carry a bound label.
_PLAIN = 0
_BUCKET = 1
_QUANTILE = 2
_BOUND_LABEL = ("", "le", "quantile")

_CANONICAL_META = ("# HELP ", "# TYPE ")
_QUOTE_LIMIT = 80


class _Family:
    """Mutable builder; frozen into a MetricFamily once the whole text is read."""

    __slots__ = ("mtype", "name", "samples", "typed")

    def __init__(self, name: str, mtype: MetricType, typed: bool) -> None:
        self.name = name
        self.mtype = mtype
        # False when the family was made up for a sample with no TYPE: a TYPE arriving later is
        # then "TYPE after samples", not a legitimate declaration.
        self.typed = typed
        self.samples: list[Sample] = []


def _quote(line: str) -> str:
    if len(line) > _QUOTE_LIMIT:
        return repr(line[:_QUOTE_LIMIT]) + "…"
    return repr(line)


def _unescape_help(match: re.Match[str]) -> str:
    return "\n" if match.group(0) == "\\n" else "\\"


def _is_number(text: str) -> bool:
    """Python's float() is laxer than Go's ParseFloat (it takes `1_000` and non-ASCII digits);
    real exporters never write those, so accepting them would only hide corruption."""
    return text.isascii() and "_" not in text


def _scan_labels(line: str, pos: int) -> tuple[dict[str, str], int] | str:
    """Slow path: a character scanner for label sets with escapes, or with `}`/`"` trouble that
    the fast path cannot rule out. `pos` is just after `{`. Returns the labels and the index just
    after `}`, or an error message."""
    n = len(line)
    labels: dict[str, str] = {}
    while True:
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos >= n:
            return "unterminated label set"
        if line[pos] == "}":
            return labels, pos + 1
        eq = line.find("=", pos)
        if eq < 0:
            return "label without '='"
        name = line[pos:eq].strip(" \t")
        if not _LABEL_NAME.fullmatch(name):
            return f"invalid label name {name[:40]!r}"
        pos = eq + 1
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos >= n or line[pos] != '"':
            return f"value of label {name!r} is not quoted"
        pos += 1
        start = pos
        chunks: list[str] = []
        while True:
            quote = line.find('"', pos)
            if quote < 0:
                return f"unterminated value of label {name!r}"
            backslash = line.find("\\", pos, quote)
            if backslash < 0:
                chunks.append(line[start:quote])
                pos = quote + 1
                break
            chunks.append(line[start:backslash])
            escaped = line[backslash + 1 : backslash + 2]
            if escaped == "n":
                chunks.append("\n")
            elif escaped in ('"', "\\"):
                chunks.append(escaped)
            else:
                # Unknown escapes are kept verbatim, as prometheus_client does.
                chunks.append("\\" + escaped)
            pos = start = backslash + 2
        if name in labels:
            return f"duplicate label name {name!r}"
        labels[name] = "".join(chunks)
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos >= n:
            return "unterminated label set"
        char = line[pos]
        if char == ",":
            pos += 1
        elif char == "}":
            return labels, pos + 1
        else:
            return f"unexpected {char!r} after value of label {name!r}"


def _fast_labels(segment: str, label_names: set[str]) -> dict[str, str] | str | None:
    """Fast path for a label set with no backslash. Without escapes every `"` is a delimiter, so
    splitting on `"` gives separators (`,name=`) at even and values at odd positions. An even
    number of quotes means the caller's `}` was inside a value: None sends it to the slow path."""
    parts = segment.split('"')
    count = len(parts)
    if not count & 1:
        return None
    labels: dict[str, str] = {}
    for i in range(0, count - 1, 2):
        key = parts[i]
        if i:
            if key[:1] != ",":
                key = key.lstrip(" \t")
                if key[:1] != ",":
                    return "missing ',' between labels"
            key = key[1:]
        if key[-1:] != "=":
            key = key.rstrip(" \t")
            if key[-1:] != "=":
                return f"label without '=' near {key[:40]!r}"
        key = key[:-1]
        if key not in label_names:
            key = key.strip(" \t")
            if not _LABEL_NAME.fullmatch(key):
                return f"invalid label name {key[:40]!r}"
            label_names.add(key)
        if key in labels:
            return f"duplicate label name {key!r}"
        labels[key] = parts[i + 1]
    tail = parts[-1]
    if tail and tail.strip(" \t") not in ("", ","):
        return f"unexpected {tail.strip()[:40]!r} in label set"
    return labels


# Series head (the text before the value: `name{labels}` or `name`) -> (sample name, labels,
# series id, role). Shared across calls because a collector parses the same server's series over
# and over: on a steady scrape nearly every sample line is a hit, which skips label parsing,
# validation and sorting. The series id is a str, so its hash is computed once and duplicate
# checks stay cheap. Bounded by clearing: a dict never grows past the limit, whatever the input.
_Entry = tuple[str, Labels, str, int]
_SERIES_CACHE: dict[str, _Entry] = {}
# Whole `# HELP`/`# TYPE` line -> (name, type or None for HELP, help text): metadata repeats
# verbatim on every scrape, and is a third of the lines.
_Meta = tuple[str, MetricType | None, str]
_META_CACHE: dict[str, _Meta] = {}
# Value text -> float, for values already validated: bucket counts and gauges repeat between
# scrapes, and a lookup is cheaper than float() plus the checks float() needs here.
_VALUE_CACHE: dict[str, float] = {}
_CACHE_LIMIT = 50_000


def clear_cache() -> None:
    """Forget cached series heads. Results never depend on the cache; benchmarks use this to
    measure a cold parse (the first scrape of a new server)."""
    _SERIES_CACHE.clear()
    _META_CACHE.clear()
    _VALUE_CACHE.clear()


_Setters = tuple[Callable[[Sample, str], None], Callable[[Sample, Labels], None], Callable[[Sample, float], None]]


def _fast_sample_setters() -> _Setters | None:
    """Sample is a frozen dataclass, and its generated __init__ (object.__setattr__ per field)
    is a third of the cost of a cached sample line. Setting the slots directly is what that
    __init__ does, minus the overhead. Used only while Sample has exactly these three slots
    and the result equals the normal constructor's, so a model change falls back safely."""
    if getattr(Sample, "__slots__", None) != ("name", "labels", "value"):
        return None
    slots = Sample.__dict__
    setters = (slots["name"].__set__, slots["labels"].__set__, slots["value"].__set__)
    probe = object.__new__(Sample)
    for setter, field in zip(setters, ("n", (("a", "b"),), 1.5), strict=True):
        setter(probe, field)
    if probe != Sample("n", (("a", "b"),), 1.5):
        return None
    return setters


_SETTERS = _fast_sample_setters()


def _series_id(name: str, labels: Labels) -> str:
    """A str key per series for the duplicate check (a str caches its hash; a tuple of tuples is
    rehashed on every lookup). Unambiguous: names cannot contain the U+0001 separator and each
    value is length-prefixed, so no label value can forge another series' key."""
    if not labels:
        return name
    return name + "".join([f"\x01{key}\x01{len(value)}\x01{value}" for key, value in labels])


def parse_exposition(
    text: str,
    *,
    keep: tuple[str, ...] | None = None,
    require_final_newline: bool = False,
) -> ParseResult:
    """Parse text format 0.0.4 (and the OpenMetrics `# EOF` line) into families.

    `keep`: name prefixes; lines for other names are skipped with one `startswith` and no
    validation (so problems in them are not reported either). Matched against the name on each
    line, so a prefix must cover the family name and its `_bucket`/`_sum`/`_count` series.
    `keep=()` keeps nothing.

    `require_final_newline`: a text not ending in a newline is a transfer cut short (every HTTP
    exposition ends with one), and its last line may be a number cut mid-digit: that line is
    dropped and reported as TRUNCATED instead of being parsed as a wrong value.

    `le` and `quantile` label values are normalised to prometheus_client's spelling (`1` ->
    `1.0`, `+inf` -> `+Inf`), as Prometheus 3 does, so consumers can compare them as strings.
    """
    errors: list[ParseError] = []
    if not text or text.isspace():
        return ParseResult(MappingProxyType({}), (ParseError(ParseErrorKind.EMPTY, 0, "empty exposition"),))
    lines = text.split("\n")
    if text[-1] == "\n":
        lines.pop()
    elif require_final_newline:
        tail = lines.pop()
        errors.append(
            ParseError(
                ParseErrorKind.TRUNCATED,
                len(lines) + 1,
                f"no final newline, last line dropped as truncated: {_quote(tail)}",
            )
        )

    families: dict[str, _Family] = {}
    # Sample name -> (family, role), for the names this text declared or used.
    owners: dict[str, tuple[_Family, int]] = {}
    helps: dict[str, str] = {}
    seen: set[str] = set()
    metric_names: set[str] = set()
    label_names: set[str] = set()
    bounds: dict[str, str | None] = {}
    cache = _SERIES_CACHE
    setters = _SETTERS
    new_sample = object.__new__
    meta_cache = _META_CACHE
    values = _VALUE_CACHE

    keep_all: tuple[str, ...] | None = None
    if keep is not None:
        keep_all = keep + tuple(m + p for m in _CANONICAL_META for p in keep)

    def fail(kind: ParseErrorKind, lineno: int, what: str, line: str) -> None:
        errors.append(ParseError(kind, lineno, f"{what}: {_quote(line)}"))

    def valid_metric_name(name: str) -> bool:
        if name in metric_names:
            return True
        if _METRIC_NAME.fullmatch(name):
            metric_names.add(name)
            return True
        return False

    def declare(name: str, mtype: MetricType, lineno: int, line: str) -> None:
        family = families.get(name)
        if family is not None:
            if not family.typed:
                fail(ParseErrorKind.TYPE_MISMATCH, lineno, "TYPE after samples of the family", line)
            elif family.mtype is not mtype:
                fail(ParseErrorKind.TYPE_MISMATCH, lineno, f"family already declared {family.mtype}", line)
            return
        family = families[name] = _Family(name, mtype, typed=True)
        if mtype is MetricType.HISTOGRAM:
            owners.setdefault(name + "_bucket", (family, _BUCKET))
            owners.setdefault(name + "_count", (family, _PLAIN))
            owners.setdefault(name + "_sum", (family, _PLAIN))
        elif mtype is MetricType.SUMMARY:
            owners[name] = (family, _QUANTILE)
            owners.setdefault(name + "_count", (family, _PLAIN))
            owners.setdefault(name + "_sum", (family, _PLAIN))
        else:
            # An explicit TYPE wins over another family's suffix claim (`x_count` declared as
            # its own gauge next to a histogram `x`).
            owners[name] = (family, _PLAIN)

    def metadata(line: str, lineno: int) -> None:
        if line.startswith(_CANONICAL_META):
            word = line[2:6]
            rest = line[7:]
        else:
            body = line[1:].lstrip(" \t")
            word = body[:4]
            if word not in ("HELP", "TYPE") or body[4:5] not in ("", " ", "\t"):
                return  # an ordinary comment, `# EOF` included
            rest = body[5:]
        if rest[-1:] == "\r":
            rest = rest[:-1]
        rest = rest.lstrip(" \t")
        if word == "TYPE":
            fields = rest.split()
            if len(fields) != 2:
                fail(ParseErrorKind.INVALID_METADATA, lineno, "TYPE needs a name and a type", line)
                return
            name, type_text = fields
            if keep is not None and not name.startswith(keep):
                return
            if not valid_metric_name(name):
                fail(ParseErrorKind.INVALID_METADATA, lineno, "invalid metric name in TYPE", line)
                return
            mtype = _TYPES.get(type_text.lower())
            if mtype is None:
                fail(ParseErrorKind.INVALID_METADATA, lineno, f"unknown type {type_text[:40]!r}", line)
                return
            remember(line, (name, mtype, ""))
            declare(name, mtype, lineno, line)
            return
        end = len(rest)
        for separator in (" ", "\t"):
            found = rest.find(separator, 0, end)
            if found >= 0:
                end = found
        name = rest[:end]
        if keep is not None and not name.startswith(keep):
            return
        if not valid_metric_name(name):
            fail(ParseErrorKind.INVALID_METADATA, lineno, "invalid metric name in HELP", line)
            return
        doc = rest[end + 1 :].lstrip(" \t")
        if "\\" in doc:
            doc = _HELP_ESCAPE.sub(_unescape_help, doc)
        remember(line, (name, None, doc))
        set_help(name, doc, lineno, line)

    def remember(line: str, meta: _Meta) -> None:
        if len(meta_cache) >= _CACHE_LIMIT:
            meta_cache.clear()
        meta_cache[line] = meta

    def set_help(name: str, doc: str, lineno: int, line: str) -> None:
        previous = helps.get(name)
        if previous is None:
            helps[name] = doc
        elif previous != doc:
            fail(ParseErrorKind.INVALID_METADATA, lineno, "second HELP with a different text", line)

    def sample(line: str, lineno: int) -> None:
        """The general sample path: everything the cached fast path in the loop did not take."""
        brace = line.find("{")
        labels_dict: dict[str, str] | None = None
        if brace >= 0 and line[:brace] not in owners:
            bare = line[:brace].rstrip(" \t")
            if " " in bare or "\t" in bare:
                # The `{` comes after the value (an OpenMetrics exemplar): no label set.
                brace = -1
        if brace < 0:
            fields = line.split()
            if len(fields) < 2:
                fail(ParseErrorKind.INVALID_LINE, lineno, "expected a name and a value", line)
                return
            name = fields[0]
            head_end = len(name)
            value_fields = fields[1:]
        else:
            name = line[:brace]
            close = line.find("}", brace + 1)
            found: dict[str, str] | str | None = None
            cacheable = False
            if close >= 0:
                segment = line[brace + 1 : close]
                if "\\" not in segment:
                    found = _fast_labels(segment, label_names) if segment else {}
                    cacheable = True
            if found is None:
                cacheable = False
                scanned = _scan_labels(line, brace + 1)
                if isinstance(scanned, str):
                    found = scanned
                else:
                    found, head_end = scanned
                    close = head_end - 1
            if isinstance(found, str):
                fail(ParseErrorKind.INVALID_LABELS, lineno, found, line)
                return
            labels_dict = found
            head_end = close + 1 if cacheable else -1
            value_fields = line[close + 1 :].split()
            if not value_fields:
                fail(ParseErrorKind.INVALID_LINE, lineno, "no value after the labels", line)
                return

        owner = owners.get(name)
        if owner is None:
            name = name.rstrip(" \t")
            owner = owners.get(name)
        if owner is None:
            if name in families:
                family = families[name]
                fail(
                    ParseErrorKind.TYPE_MISMATCH,
                    lineno,
                    f"series name not allowed in {family.mtype} family {name}",
                    line,
                )
                return
            if not valid_metric_name(name):
                fail(ParseErrorKind.INVALID_LINE, lineno, "invalid metric name", line)
                return
            # A sample with no TYPE: its own untyped family, made only once the line is good.
            family = _Family(name, MetricType.UNTYPED, typed=False)
            role = _PLAIN
        else:
            family, role = owner

        value_text = value_fields[0]
        if len(value_fields) > 1:
            head_end = -1
            extra = value_fields[1:]
            if "#" in extra:  # an OpenMetrics exemplar: ignored like the timestamp
                extra = extra[: extra.index("#")]
            if len(extra) > 1:
                fail(ParseErrorKind.INVALID_LINE, lineno, "unexpected text after the value", line)
                return
            if extra:
                stamp = extra[0]
                try:
                    int(stamp)
                except ValueError:
                    stamp = ""
                if not stamp or not _is_number(stamp):
                    fail(ParseErrorKind.INVALID_VALUE, lineno, "invalid timestamp", line)
                    return
        try:
            value = float(value_text)
        except ValueError:
            value_text = ""
        if not value_text or not _is_number(value_text):
            fail(ParseErrorKind.INVALID_VALUE, lineno, "invalid value", line)
            return

        if role:
            bound_label = _BOUND_LABEL[role]
            raw = labels_dict.get(bound_label) if labels_dict else None
            if raw is None:
                fail(ParseErrorKind.INVALID_LABELS, lineno, f"{family.mtype} series without {bound_label}", line)
                return
            canonical = bounds.get(raw, "")
            if canonical == "":
                try:
                    canonical = format_float(float(raw)) if _is_number(raw) else None
                except ValueError:
                    canonical = None
                bounds[raw] = canonical
            if canonical is None:
                fail(ParseErrorKind.INVALID_LABELS, lineno, f"{bound_label} is not a number", line)
                return
            if labels_dict is not None and canonical != raw:
                labels_dict[bound_label] = canonical

        labels = make_labels(labels_dict) if labels_dict else ()
        series = _series_id(name, labels)
        # Remember the head only where the fast loop would find it again: the line must be
        # exactly `head value`, one space, no timestamp.
        if head_end > 0 and line[head_end : head_end + 1] == " " and line[head_end + 1 :] == value_text:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[line[:head_end]] = (name, labels, series, role)
        if series in seen:
            fail(ParseErrorKind.DUPLICATE_SERIES, lineno, "series already seen, first kept", line)
            return
        seen.add(series)
        if owner is None:
            families[name] = family
            owners[name] = (family, _PLAIN)
        family.samples.append(Sample(name, labels, value))

    for lineno, line in enumerate(lines, 1):
        if not line:
            continue
        first = line[0]
        if keep_all is not None and not line.startswith(keep_all):
            if first == "#":
                if line.startswith(_CANONICAL_META):
                    continue
            elif not first.isspace():
                continue
        if first == "#":
            meta = meta_cache.get(line)
            if meta is not None:
                name, mtype, doc = meta
                if keep is None or name.startswith(keep):
                    if mtype is not None:
                        declare(name, mtype, lineno, line)
                    elif name not in helps:
                        helps[name] = doc
                    else:
                        set_help(name, doc, lineno, line)
                continue
        else:
            # Fast path: a series head this process has parsed before, then one space and the
            # value. Anything unusual (unknown head, role changed, odd value) takes `sample`.
            space = line.rfind(" ")
            entry = cache.get(line[:space]) if space > 0 else None
            if entry is not None:
                name, labels, series, role = entry
                owner = owners.get(name)
                if owner is not None and owner[1] == role:
                    value_text = line[space + 1 :]
                    value = values.get(value_text)
                    if value is None:
                        try:
                            value = float(value_text)
                        except ValueError:
                            value = None
                        if value is not None and value_text.isascii() and "_" not in value_text:
                            if len(values) >= _CACHE_LIMIT:
                                values.clear()
                            values[value_text] = value
                        else:
                            value = None
                    if value is not None:
                        if series in seen:
                            fail(
                                ParseErrorKind.DUPLICATE_SERIES,
                                lineno,
                                "series already seen, first kept",
                                line,
                            )
                        else:
                            seen.add(series)
                            if setters is None:
                                made = Sample(name, labels, value)
                            else:
                                made = new_sample(Sample)
                                setters[0](made, name)
                                setters[1](made, labels)
                                setters[2](made, value)
                            owner[0].samples.append(made)
                        continue
        try:
            if first.isspace():
                line = line.lstrip()
                if not line:
                    continue
                first = line[0]
                if keep is not None and first != "#" and not line.startswith(keep):
                    continue
            if first == "#":
                metadata(line, lineno)
            else:
                sample(line, lineno)
        except Exception as exc:  # pragma: no cover - a safety net: the contract is "never raises"
            fail(ParseErrorKind.INVALID_LINE, lineno, f"internal error {type(exc).__name__}", line)

    result = {
        name: MetricFamily(name, family.mtype, helps.get(name, ""), tuple(family.samples))
        for name, family in families.items()
    }
    return ParseResult(MappingProxyType(result), tuple(errors))
