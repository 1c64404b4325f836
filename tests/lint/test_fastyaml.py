"""The block-YAML fast path must read exactly what PyYAML reads, or decline (return None)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.lint import drift, fastyaml

scalars = st.one_of(
    st.text(max_size=30),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["5m", "yes", "no", "on", "~", "0x1f", "1_000", "1:30", "2024-01-01", "a: b", "# x", "'q'",
                     "x\ny", "  lead", "trail  ", "-", "- x", "|", "{a}", "[1]", "&a", "*a", "!t", "%", "@", "`"]),
)
keys = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.sampled_from(["expr", "1", "yes", "on"]))
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=120, deadline=None)
@given(tree=trees, style=st.sampled_from([None, "|", "'", '"']), width=st.sampled_from([20, 80, 10**6]))
def test_fast_path_agrees_with_pyyaml(tree: object, style: str | None, width: int) -> None:
    text = yaml.safe_dump({"root": tree}, default_style=style, width=width, sort_keys=False)
    fast = fastyaml.parse(text)
    if fast is not None:
        assert fast[0] == yaml.safe_load(text), text


@settings(max_examples=80, deadline=None)
@given(tree=trees, indent=st.sampled_from([2, 4]))
def test_fast_path_agrees_on_block_styles(tree: object, indent: int) -> None:
    text = yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "x", "expr": tree}]}]},
                          indent=indent, default_flow_style=False)
    fast = fastyaml.parse(text)
    if fast is not None:
        assert fast[0] == yaml.safe_load(text), text


def test_generated_rule_files_take_the_fast_path_with_key_lines(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("apiVersion: llmslo/v1\nkind: SLOSpec\nslos:\n  - name: a\n"
                    "    sli: {kind: latency, metric: ttft, threshold: 0.5}\n    objective: 99\n    window: 7d\n")
    gen = drift.generator_for("rules")
    assert gen is not None
    rule_files = {n: t for n, t in gen([str(spec)], []).items() if not n.startswith("tests/")}
    assert len(rule_files) == 2  # the rule file and the PrometheusRule (promtool tests are not linted)
    for name, text in rule_files.items():
        fast = fastyaml.parse(text)
        assert fast is not None, name
        assert fast[0] == yaml.safe_load(text), name
        lines = text.splitlines()
        for path, (line, col) in fast[1].items():
            if path and isinstance(path[-1], str):
                assert lines[line - 1][col - 1 :].startswith(path[-1]), (name, path, line, col)


def test_outside_the_subset_it_declines() -> None:
    for text in ("a: {b: 1}\n", "a: &x 1\nb: *x\n", "a: >\n  folded\n", "a: 1\n---\nb: 2\n", "a:\n\t- 1\n",
                 "a: plain\n  continued\n", 'a: "esc\\n"\n', "? complex\n: v\n", "a: b: c\n"):
        assert fastyaml.parse(text) is None, text
