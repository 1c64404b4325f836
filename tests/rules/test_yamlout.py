"""The rule-file YAML emitter reads back as exactly what it was given, whatever the strings hold."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.rules.yamlout import dump

TRICKY = ["yes", "1.0", "-x", "a: b", "a #b", "'q'", '"', "x\n y", "  lead\nx", "trail \nx", "ü", "", "{a}", "*a",
          "&b", "!t", "%x", "@x", "`x", "a,b", "[x]", "0x1", "1e5", ".5", "null", "~", "- a", "?x", "|", ">",
          "a\tb", "2026-01-01", "True", "=", "<<", "a:", 'le="0.5"', "x ", "NaN", ".inf", "a\u2028b", "a\x85b",
          "\n", "a\n\nb", "a\n", "\U00010000", "1_000", "30d", "{{ $labels.slo }}"]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip(text: str) -> None:
    data = {"k": text, "l": [text, {"m": text}], "n": {text: 1}}
    assert yaml.safe_load(dump(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(max_size=50), st.integers(), st.booleans())
def test_any_rule_shaped_data_round_trips(value: str, key: str, number: int, flag: bool) -> None:
    data = {"groups": [{"name": value, "rules": [{"record": key or "x", "expr": value, "labels": {key: value}}]}],
            "n": number, "b": flag, "empty": {}, "none": []}
    assert yaml.safe_load(dump(data)) == data


def test_multiline_expressions_are_literal_blocks() -> None:
    assert dump({"expr": "a\n/\nb"}) == "expr: |-\n  a\n  /\n  b\n"
