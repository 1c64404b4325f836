"""Render metric families as Prometheus text exposition format 0.0.4.

The output is deterministic (families by name, samples in a fixed order) so that golden files
and the round-trip tests can compare bytes. Formatting mirrors prometheus_client's
`generate_latest`, so text we write looks like what vLLM itself serves and a diff against a real
scrape shows only real differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache

from slo.metrics.model import Labels, MetricFamily, MetricType, Sample

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "TemplateBlock",
    "escape_label_value",
    "exposition_template",
    "format_float",
    "le_matcher",
    "render_labels",
    "wants_openmetrics",
    "write_exposition",
]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def wants_openmetrics(accept: str) -> bool:
    """Whether a scraper's Accept header asks for OpenMetrics (Prometheus does with exemplar storage on)."""
    return "application/openmetrics-text" in accept

_INF = math.inf
_MINUS_INF = -math.inf


def format_float(value: float) -> str:
    """Format like `prometheus_client.utils.floatToGoString`.

    Re-implemented rather than imported because that function is untyped (strict mypy) and the
    parser needs the same spelling to normalise `le`/`quantile` labels. Go switches to exponent
    notation sooner than Python's repr, and prometheus_client copies that; we copy it too so that
    `le` values match what real servers write byte for byte.
    """
    value = float(value)
    if value == _INF:
        return "+Inf"
    if value == _MINUS_INF:
        return "-Inf"
    if value != value:
        return "NaN"
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def le_matcher(boundary: float) -> str:
    """A PromQL `le` matcher for a bucket boundary. The exporters write `le` the way
    prometheus_client does (`0.5`, `1.0`); Prometheus 3 rewrites integral values to `1`. An
    integral boundary matches both."""
    text = format_float(boundary)
    if text.endswith(".0"):
        return f'le=~"{text[:-2]}|{text[:-2]}\\\\.0"'
    return f'le="{text}"'


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@lru_cache(maxsize=65536)
def render_labels(labels: Labels) -> str:
    if not labels:
        return ""
    # Sorted again (the model promises sorted labels, but a hand-built Sample may not keep that
    # promise and prometheus_client sorts too), so the text never depends on construction order.
    body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels))
    return "{" + body + "}"


_BoundKey = tuple[int, float, str]


def _bound_key(raw: str) -> _BoundKey:
    """Numeric order for `le`/`quantile` (so 10 sorts after 2 and +Inf last); values that are not
    numbers go after all numbers, in string order, so the order stays total and deterministic."""
    try:
        number = float(raw)
    except ValueError:
        return (1, 0.0, raw)
    if number != number:
        return (1, 0.0, raw)
    return (0, number, raw)


_NO_BOUND: _BoundKey = (0, 0.0, "")


def _grouped_key(family: str, bound_label: str, first_suffix: str) -> Callable[[Sample], tuple[object, ...]]:
    """Key for histograms and summaries: one series group (labels minus `le`/`quantile`) at a time,
    and inside it buckets (ascending `le`) or quantiles, then `_count`, then `_sum`.

    That is the order prometheus_client's `Histogram._child_samples` emits per child; grouping by
    child (rather than sorting all `_bucket` lines before all `_count` lines) keeps each series
    readable and matches what vLLM serves.
    """
    rank_of = {family + first_suffix: 0, family + "_count": 1, family + "_sum": 2}

    def key(sample: Sample) -> tuple[object, ...]:
        return _cached_key(sample.name, sample.labels)

    # Scrape after scrape the same series come back with new values only: memoise the key.
    @lru_cache(maxsize=65536)
    def _cached_key(name: str, labels: Labels) -> tuple[object, ...]:
        sample = Sample(name, labels, 0.0)
        bound = _NO_BOUND
        rest: list[tuple[str, str]] = []
        for pair in sample.labels:
            if pair[0] == bound_label:
                bound = _bound_key(pair[1])
            else:
                rest.append(pair)
        return (tuple(rest), rank_of.get(sample.name, 3), bound, sample.name, sample.labels)

    return key


def _plain_key(sample: Sample) -> tuple[object, ...]:
    return (sample.name, sample.labels)


@lru_cache(maxsize=4096)
def _sample_key_for(name: str, kind: MetricType) -> Callable[[Sample], tuple[object, ...]]:
    if kind is MetricType.HISTOGRAM:
        return _grouped_key(name, "le", "_bucket")
    if kind is MetricType.SUMMARY:
        return _grouped_key(name, "quantile", "")
    return _plain_key


def _sample_key(family: MetricFamily) -> Callable[[Sample], tuple[object, ...]]:
    return _sample_key_for(family.name, family.type)


def _family_name(family: MetricFamily) -> str:
    return family.name


Position = tuple[int, int]  # (family index, sample index) in the families given to the template


TemplateBlock = tuple[str, list[str], list[Position]]
"""One family of a template: its name, the text pieces around its values (one more piece than
values) and which sample each value comes from."""


def exposition_template(families: list[MetricFamily]) -> list[TemplateBlock]:
    """The text `write_exposition` would write for families of a fixed shape, values left out,
    per family in output order. A scrape plan fills in values without sorting or rendering labels
    again; joining the pieces around `format_float` of each value gives byte for byte the text of
    `write_exposition` on the same families."""
    blocks: list[TemplateBlock] = []
    order = sorted(range(len(families)), key=lambda i: families[i].name)
    for f in order:
        family = families[f]
        name = family.name
        pieces = [f"# HELP {name} {_escape_help(family.help)}\n# TYPE {name} {family.type.value}\n"]
        positions: list[Position] = []
        indices = list(range(len(family.samples)))
        if len(indices) > 1:
            key = _sample_key(family)
            indices.sort(key=lambda i: key(family.samples[i]))
        for i in indices:
            sample = family.samples[i]
            pieces[-1] += sample.name + render_labels(sample.labels) + " "
            positions.append((f, i))
            pieces.append("\n")
        blocks.append((name, pieces, positions))
    return blocks


def write_exposition(families: Iterable[MetricFamily]) -> str:
    """Text format 0.0.4 with a final newline (a scrape without one looks truncated to our own
    parser's `require_final_newline`); no families gives "" rather than a lone newline.

    Names and label names are written as given: the model is trusted, not re-validated.
    """
    out: list[str] = []
    append = out.append
    rendered: dict[Labels, str] = {}
    for family in sorted(families, key=_family_name):
        name = family.name
        append(f"# HELP {name} {_escape_help(family.help)}\n# TYPE {name} {family.type.value}\n")
        samples = family.samples
        if len(samples) > 1:
            samples = tuple(sorted(samples, key=_sample_key(family)))
        for sample in samples:
            labels = sample.labels
            text = rendered.get(labels)
            if text is None:
                text = rendered[labels] = render_labels(labels)
            append(sample.name + text + " " + format_float(sample.value) + "\n")
    return "".join(out)
