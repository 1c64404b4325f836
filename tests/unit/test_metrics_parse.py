"""The tolerant exposition parser: every error kind, the grouping rules, and real captures
compared line for line with prometheus_client's own parser."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.captures import SHARED_FIXTURES

from slo.metrics.model import MetricFamily, MetricType, Sample, make_labels
from slo.metrics.parse import ParseErrorKind, ParseResult, clear_cache, parse_exposition

FIXTURES = SHARED_FIXTURES
"""Real captures live in the project's shared/ folder, a sibling of the repository (also in CI)."""

VLLM_FIXTURES = (
    "vllm-0.32-cpu/metrics-after-21-requests.prom",
    "vllm-0.32-cpu/metrics-after-load.prom",
    "vllm-0.32-cpu/metrics-idle-after-1-request.prom",
    "vllm-v0-metrics-opt125m.prom",
)
DCGM_FIXTURE = "dcgm-exporter-k8s-podmapped-rtx4000ada.prom"
ALL_FIXTURES = (*VLLM_FIXTURES, DCGM_FIXTURE)


def fixture_text(name: str) -> str:
    """The capture byte for byte: read_text() would translate newlines, and the missing final
    newline of the v0 capture is part of what the truncation tests rely on."""
    return (FIXTURES / name).read_bytes().decode("utf-8")


def kinds(result: ParseResult) -> list[ParseErrorKind]:
    return [error.kind for error in result.errors]


def series(result: ParseResult) -> dict[str, list[tuple[str, tuple[tuple[str, str], ...], float]]]:
    return {name: [(s.name, s.labels, s.value) for s in family.samples] for name, family in result.families.items()}


E = ParseErrorKind

# (text, expected (error kind, line) in order, expected series {family: [(name, labels, value)]}).
# Every kind has a failing case and a passing neighbour that differs by as little as possible.
ERROR_CASES = [
    # INVALID_LINE
    pytest.param("foo\n", [(E.INVALID_LINE, 1)], {}, id="line-no-value"),
    pytest.param("foo 1\n", [], {"foo": [("foo", (), 1.0)]}, id="line-ok"),
    pytest.param("1foo 1\n", [(E.INVALID_LINE, 1)], {}, id="line-bad-name"),
    pytest.param("foo 1 2 3\n", [(E.INVALID_LINE, 1)], {}, id="line-extra-tokens"),
    pytest.param('foo{a="b"}\n', [(E.INVALID_LINE, 1)], {}, id="line-labels-no-value"),
    pytest.param('foo{a="b"} 1\n', [], {"foo": [("foo", (("a", "b"),), 1.0)]}, id="line-labels-ok"),
    # INVALID_LABELS
    pytest.param('x{a="1} 2\n', [(E.INVALID_LABELS, 1)], {}, id="labels-unterminated"),
    pytest.param('x{a="1\\"} 2\n', [(E.INVALID_LABELS, 1)], {}, id="labels-escaped-quote-unterminated"),
    pytest.param('x{a="1\\""} 2\n', [], {"x": [("x", (("a", '1"'),), 2.0)]}, id="labels-escaped-quote-ok"),
    pytest.param('x{1a="b"} 1\n', [(E.INVALID_LABELS, 1)], {}, id="labels-bad-name"),
    pytest.param('x{a-b="c"} 1\n', [(E.INVALID_LABELS, 1)], {}, id="labels-dash-in-name"),
    pytest.param("x{a=b} 1\n", [(E.INVALID_LABELS, 1)], {}, id="labels-unquoted"),
    pytest.param('x{a="1" b="2"} 1\n', [(E.INVALID_LABELS, 1)], {}, id="labels-missing-comma"),
    pytest.param('x{a="1",a="2"} 1\n', [(E.INVALID_LABELS, 1)], {}, id="labels-duplicate-name"),
    pytest.param('x{a="1",,b="2"} 1\n', [(E.INVALID_LABELS, 1)], {}, id="labels-double-comma"),
    pytest.param(
        'x{ a = "1" , b="2", } 1\n',
        [],
        {"x": [("x", (("a", "1"), ("b", "2")), 1.0)]},
        id="labels-whitespace-and-trailing-comma-ok",
    ),
    pytest.param(
        '# TYPE h histogram\nh_bucket{a="1"} 1\n',
        [(E.INVALID_LABELS, 2)],
        {"h": []},
        id="labels-bucket-without-le",
    ),
    pytest.param(
        '# TYPE h histogram\nh_bucket{le="x"} 1\n', [(E.INVALID_LABELS, 2)], {"h": []}, id="labels-bucket-le-nan-text"
    ),
    pytest.param(
        '# TYPE h histogram\nh_bucket{le="1"} 1\n',
        [],
        {"h": [("h_bucket", (("le", "1.0"),), 1.0)]},
        id="labels-bucket-le-normalised-ok",
    ),
    # INVALID_VALUE
    pytest.param("x abc\n", [(E.INVALID_VALUE, 1)], {}, id="value-word"),
    pytest.param("x 1_000\n", [(E.INVALID_VALUE, 1)], {}, id="value-underscore"),
    pytest.param("x \u0661\n", [(E.INVALID_VALUE, 1)], {}, id="value-non-ascii-digit"),
    pytest.param("x 0x10\n", [(E.INVALID_VALUE, 1)], {}, id="value-hex"),
    pytest.param("x 1 12.5\n", [(E.INVALID_VALUE, 1)], {}, id="value-float-timestamp"),
    pytest.param("x 1 1_0\n", [(E.INVALID_VALUE, 1)], {}, id="value-underscore-timestamp"),
    pytest.param("x 1.5e3 1700000000000\n", [], {"x": [("x", (), 1500.0)]}, id="value-exponent-timestamp-ok"),
    pytest.param("x -Inf\n", [], {"x": [("x", (), -math.inf)]}, id="value-minus-inf-ok"),
    pytest.param("x Inf\n", [], {"x": [("x", (), math.inf)]}, id="value-inf-ok"),
    pytest.param("x +Inf\t-5\n", [], {"x": [("x", (), math.inf)]}, id="value-plus-inf-tab-negative-ts-ok"),
    # INVALID_METADATA
    pytest.param("# TYPE x\n", [(E.INVALID_METADATA, 1)], {}, id="meta-type-no-type"),
    pytest.param("# TYPE x y z\n", [(E.INVALID_METADATA, 1)], {}, id="meta-type-extra"),
    pytest.param("# TYPE x histogramm\n", [(E.INVALID_METADATA, 1)], {}, id="meta-type-unknown"),
    pytest.param("# TYPE 1x gauge\n", [(E.INVALID_METADATA, 1)], {}, id="meta-type-bad-name"),
    pytest.param("# HELP 1x doc\n", [(E.INVALID_METADATA, 1)], {}, id="meta-help-bad-name"),
    pytest.param("# HELP\n", [(E.INVALID_METADATA, 1)], {}, id="meta-help-no-name"),
    pytest.param(
        "# HELP x one\n# HELP x two\nx 1\n", [(E.INVALID_METADATA, 2)], {"x": [("x", (), 1.0)]}, id="meta-help-twice"
    ),
    pytest.param("# HELP x one\n# HELP x one\nx 1\n", [], {"x": [("x", (), 1.0)]}, id="meta-help-repeated-ok"),
    pytest.param("# TYPE x unknown\nx 1\n", [], {"x": [("x", (), 1.0)]}, id="meta-openmetrics-unknown-ok"),
    pytest.param("# some comment\n# HELPFUL text\n# EOF\n", [], {}, id="meta-plain-comments-ok"),
    # DUPLICATE_SERIES
    pytest.param(
        'x{a="1"} 1\nx{a="1"} 2\n', [(E.DUPLICATE_SERIES, 2)], {"x": [("x", (("a", "1"),), 1.0)]}, id="dup-same"
    ),
    pytest.param(
        'x{a=""} 1\nx 2\n', [(E.DUPLICATE_SERIES, 2)], {"x": [("x", (), 1.0)]}, id="dup-empty-label-is-no-label"
    ),
    pytest.param(
        'x{b="2",a="1"} 1\nx{a="1",b="2"} 2\n',
        [(E.DUPLICATE_SERIES, 2)],
        {"x": [("x", (("a", "1"), ("b", "2")), 1.0)]},
        id="dup-label-order",
    ),
    pytest.param(
        'x{a="1"} 1\nx{a="2"} 2\n',
        [],
        {"x": [("x", (("a", "1"),), 1.0), ("x", (("a", "2"),), 2.0)]},
        id="dup-different-ok",
    ),
    # TYPE_MISMATCH
    pytest.param("x 1\n# TYPE x gauge\n", [(E.TYPE_MISMATCH, 2)], {"x": [("x", (), 1.0)]}, id="type-after-samples"),
    pytest.param(
        "# TYPE x gauge\n# TYPE x counter\nx 1\n", [(E.TYPE_MISMATCH, 2)], {"x": [("x", (), 1.0)]}, id="type-twice"
    ),
    pytest.param("# TYPE x histogram\nx 1\n", [(E.TYPE_MISMATCH, 2)], {"x": []}, id="type-bare-name-in-histogram"),
    pytest.param("# TYPE x gauge\n# TYPE x gauge\nx 1\n", [], {"x": [("x", (), 1.0)]}, id="type-repeated-ok"),
    # TRUNCATED is covered with require_final_newline below; EMPTY:
    pytest.param("", [(E.EMPTY, 0)], {}, id="empty"),
    pytest.param(" \n\n\t\n", [(E.EMPTY, 0)], {}, id="empty-whitespace"),
    pytest.param("# only a comment\n", [], {}, id="empty-comment-ok"),
]


@pytest.mark.parametrize(("text", "expected_errors", "expected_series"), ERROR_CASES)
def test_error_kinds(
    text: str,
    expected_errors: list[tuple[ParseErrorKind, int]],
    expected_series: dict[str, list[tuple[str, tuple[tuple[str, str], ...], float]]],
) -> None:
    result = parse_exposition(text)
    assert [(error.kind, error.line) for error in result.errors] == expected_errors
    assert series(result) == expected_series


@pytest.mark.parametrize(
    ("text", "require", "expected_kinds", "expected_value"),
    [
        pytest.param("x_total 12", True, [E.TRUNCATED], None, id="cut-mid-number-dropped"),
        pytest.param("x_total 12", False, [], 12.0, id="no-final-newline-allowed-by-default"),
        pytest.param("x_total 1234.0\n", True, [], 1234.0, id="complete-ok"),
        pytest.param('x_total{a="b', True, [E.TRUNCATED], None, id="cut-in-labels-dropped"),
        pytest.param('x_total{a="b', False, [E.INVALID_LABELS], None, id="cut-in-labels-invalid-by-default"),
    ],
)
def test_truncation(
    text: str, require: bool, expected_kinds: list[ParseErrorKind], expected_value: float | None
) -> None:
    result = parse_exposition("# TYPE x_total counter\n" + text, require_final_newline=require)
    assert kinds(result) == expected_kinds
    samples = result.families["x_total"].samples
    assert [s.value for s in samples] == ([] if expected_value is None else [expected_value])
    if expected_kinds == [E.TRUNCATED]:
        assert result.errors[0].line == 2


def test_truncated_capture_drops_only_its_last_line() -> None:
    """The v0 capture lost its final newline when it was copied: strict mode must drop exactly
    that one line, lenient mode must keep it."""
    text = fixture_text("vllm-v0-metrics-opt125m.prom")
    assert not text.endswith("\n")
    lenient = parse_exposition(text)
    strict = parse_exposition(text, require_final_newline=True)
    assert lenient.errors == ()
    assert kinds(strict) == [E.TRUNCATED]
    assert strict.errors[0].line == text.count("\n") + 1
    lost = {
        (name, s.name, s.labels)
        for name, family in lenient.families.items()
        for s in family.samples
        if s not in strict.families[name].samples
    }
    last = text.rsplit("\n", 1)[1]
    assert len(lost) == 1
    assert last.startswith(next(iter(lost))[1] + "{")


def test_error_message_quotes_at_most_80_chars() -> None:
    line = "bad{" + "x" * 500 + " 1"
    (error,) = parse_exposition(line + "\n").errors
    assert error.line == 1
    assert "x" * 80 not in error.message
    assert "x" * 76 in error.message
    assert len(error.message) < 200


def test_grouping_by_type() -> None:
    text = (
        "# HELP h_seconds Latency.\n"
        "# TYPE h_seconds histogram\n"
        'h_seconds_bucket{le="0.5"} 1\n'
        'h_seconds_bucket{le="+inf"} 3\n'
        "h_seconds_count 3\n"
        "h_seconds_sum 2.5\n"
        "# TYPE s summary\n"
        's{quantile="0.5"} 0.1\n'
        "s_count 2\n"
        "s_sum 0.3\n"
        "# TYPE c_total counter\n"
        "c_total 7\n"
        "# TYPE c_created gauge\n"
        "c_created 1.7e9\n"
        "loose 1\n"
        "# EOF\n"
    )
    result = parse_exposition(text)
    assert result.errors == ()
    assert list(result.families) == ["h_seconds", "s", "c_total", "c_created", "loose"]
    assert result.families["h_seconds"] == MetricFamily(
        "h_seconds",
        MetricType.HISTOGRAM,
        "Latency.",
        (
            Sample("h_seconds_bucket", (("le", "0.5"),), 1.0),
            Sample("h_seconds_bucket", (("le", "+Inf"),), 3.0),
            Sample("h_seconds_count", (), 3.0),
            Sample("h_seconds_sum", (), 2.5),
        ),
    )
    assert [s.name for s in result.families["s"].samples] == ["s", "s_count", "s_sum"]
    assert result.families["s"].type is MetricType.SUMMARY
    assert result.families["c_total"].type is MetricType.COUNTER
    assert result.families["c_created"].type is MetricType.GAUGE
    assert result.families["loose"].type is MetricType.UNTYPED


def test_escapes() -> None:
    text = (
        "# HELP x A \\\\ backslash,\\na newline and \\t kept.\n"
        'x{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",odd="\\t",brace="}{,="} 1\n'
    )
    result = parse_exposition(text)
    assert result.errors == ()
    family = result.families["x"]
    assert family.help == "A \\ backslash,\na newline and \\t kept."
    assert family.samples[0].labels == make_labels(
        {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb", "odd": "\\t", "brace": "}{,="}
    )


def test_tolerated_layouts() -> None:
    """CRLF line ends, leading blanks, tabs, a space before `{`, exemplars: all still read."""
    text = (
        "# TYPE a gauge\r\n"
        "a 1\r\n"
        "   b 2\n"
        "c\t3\t100\n"
        'd {x="1"} 4\n'
        "#  TYPE   e_bucket   untyped\n"
        'e_bucket{le="1"} 5 # {trace_id="abc"} 0.5\n'
        'f 6 # {trace_id="abc"} 0.5\n'
    )
    result = parse_exposition(text)
    assert result.errors == ()
    values = {name: [s.value for s in family.samples] for name, family in result.families.items()}
    assert values == {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0], "e_bucket": [5.0], "f": [6.0]}
    # `le` is only normalised where it is a histogram bound
    assert result.families["e_bucket"].samples[0].labels == (("le", "1"),)


def test_nan_value() -> None:
    (sample,) = parse_exposition("x NaN\n").families["x"].samples
    assert math.isnan(sample.value)


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        pytest.param(("vllm:",), ["vllm:a_total", "vllm:h"], id="vllm"),
        pytest.param(("vllm:h", "other"), ["vllm:h", "other"], id="two-prefixes"),
        pytest.param((), [], id="nothing"),
        pytest.param(None, ["vllm:a_total", "python_gc", "vllm:h", "other"], id="everything"),
    ],
)
def test_keep_filter(keep: tuple[str, ...] | None, expected: list[str]) -> None:
    text = (
        "# HELP vllm:a_total A.\n# TYPE vllm:a_total counter\nvllm:a_total 1\n"
        '# TYPE python_gc gauge\npython_gc{generation="0"} 2\n'
        '# TYPE vllm:h histogram\nvllm:h_bucket{le="+Inf"} 1\nvllm:h_count 1\nvllm:h_sum 1\n'
        "other 1\n"
    )
    result = parse_exposition(text, keep=keep)
    assert result.errors == ()
    assert list(result.families) == expected


def test_keep_filter_does_not_validate_skipped_lines() -> None:
    result = parse_exposition("garbage{{{ here\n# TYPE other nonsense\nvllm:x 1\n", keep=("vllm:",))
    assert result.errors == ()
    assert list(result.families) == ["vllm:x"]


def test_type_claim_of_suffix_name_wins() -> None:
    """`x_count` declared as its own gauge after histogram `x`: its later samples go to it."""
    text = '# TYPE x histogram\nx_count 1\n# TYPE x_count gauge\nx_count{a="b"} 2\n'
    result = parse_exposition(text)
    assert result.errors == ()
    assert series(result) == {"x": [("x_count", (), 1.0)], "x_count": [("x_count", (("a", "b"),), 2.0)]}


def test_never_raises_on_odd_input() -> None:
    for text in ("\x00", "{", "}", '"', "#", "# TYPE", "\\", "x{", 'x{"', 'x{a="\\', "\ud800 1", "nan", "x{}"):
        result = parse_exposition(text)
        assert all(not e.message.startswith("internal") for e in result.errors)


# --- real captures ------------------------------------------------------------------------


def _reference(text: str) -> dict[str, tuple[str, str, set[tuple[str, tuple[tuple[str, str], ...], float]]]]:
    """prometheus_client's reading of `text`, keyed and named the way our model names things.

    prometheus_client reshapes counters into OpenMetrics form: a `# TYPE x_total counter` family
    comes back named `x`, and a counter declared without the suffix (dcgm-exporter's
    `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`) gets `_total` appended to each sample. Both are
    undone here rather than skipped. It also keeps `pod_uid=""`, which the model drops by
    design (make_labels), so labels go through make_labels. No family needs to be skipped.
    """
    declared = {line.split()[2] for line in text.split("\n") if line.startswith("# TYPE ")}
    out: dict[str, tuple[str, str, set[tuple[str, tuple[tuple[str, str], ...], float]]]] = {}
    for metric in text_string_to_metric_families(text):
        name = metric.name
        renamed_samples = False
        if metric.type == "counter":
            if name + "_total" in declared:
                name += "_total"
            else:
                renamed_samples = True
        samples = set()
        for s in metric.samples:
            sample_name = s.name.removesuffix("_total") if renamed_samples else s.name
            samples.add((sample_name, make_labels(s.labels), float(s.value)))
        out[name] = (metric.type, metric.documentation, samples)
    return out


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_matches_prometheus_client(name: str) -> None:
    text = fixture_text(name)
    result = parse_exposition(text)
    assert result.errors == ()
    reference = _reference(text)
    assert list(result.families) == list(reference)
    for family_name, (mtype, doc, samples) in reference.items():
        family = result.families[family_name]
        # prometheus_client strips each line, so trailing blanks of a HELP text (vLLM's
        # http_request_size_bytes has one) are lost there; we keep the text as written.
        assert (family.type.value, family.help.rstrip()) == (mtype, doc), family_name
        ours = [(s.name, s.labels, s.value) for s in family.samples]
        assert len(ours) == len(set(ours))
        assert set(ours) == samples, family_name


@pytest.mark.parametrize(
    ("name", "prefix", "min_families"),
    [
        pytest.param("vllm-0.32-cpu/metrics-after-21-requests.prom", "vllm:", 60, id="vllm-v1"),
        pytest.param("vllm-v0-metrics-opt125m.prom", "vllm:", 15, id="vllm-v0"),
        pytest.param(DCGM_FIXTURE, "DCGM_", 25, id="dcgm"),
    ],
)
def test_fixture_keep_equals_filtered_full_parse(name: str, prefix: str, min_families: int) -> None:
    text = fixture_text(name)
    full = parse_exposition(text)
    kept = parse_exposition(text, keep=(prefix,))
    assert kept.errors == ()
    assert dict(kept.families) == {k: v for k, v in full.families.items() if k.startswith(prefix)}
    assert len(kept.families) >= min_families


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_cache_never_changes_results(name: str) -> None:
    """The series cache is shared across calls; a cold and a warm parse must agree exactly."""
    text = fixture_text(name)
    clear_cache()
    cold = parse_exposition(text)
    warm = parse_exposition(text)
    assert cold == warm
    # ... also when the cached heads meet a text that types them differently
    retyped = text.replace(" histogram\n", " untyped\n").replace(" counter\n", " gauge\n")
    warm_retyped = parse_exposition(retyped)
    clear_cache()
    assert warm_retyped == parse_exposition(retyped)
    assert warm_retyped != cold


def test_fixture_vllm_histogram_shape() -> None:
    """A spot check in our own terms: the TTFT histogram of the 21-request capture."""
    result = parse_exposition(fixture_text("vllm-0.32-cpu/metrics-after-21-requests.prom"), keep=("vllm:",))
    family = result.families["vllm:time_to_first_token_seconds"]
    assert family.type is MetricType.HISTOGRAM
    buckets = [s for s in family.samples if s.name.endswith("_bucket")]
    assert buckets[-1].label("le") == "+Inf"
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)
    count = next(s for s in family.samples if s.name.endswith("_count"))
    assert count.value == buckets[-1].value == 21.0
