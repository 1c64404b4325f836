"""The tenant label stays bounded whatever the header says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exporters.proxy.tenant import NONE, OTHER, TenantLabeler


def test_allowlist() -> None:
    t = TenantLabeler(allowlist=("a", "b"))
    assert [t.label(x) for x in ("a", "b", "c", None, "")] == ["a", "b", OTHER, NONE, NONE]


def test_top_k_follows_traffic_at_refresh() -> None:
    now = [0.0]
    t = TenantLabeler(top_k=2, refresh_s=10.0, clock=lambda: now[0])
    assert [t.label(x) for x in ("a", "b", "c")] == ["a", "b", OTHER]  # first come until k
    for _ in range(5):
        t.label("c")
    now[0] = 11.0
    assert t.label("c") == "c"  # c is now among the two busiest
    assert t.labelled == frozenset({"c", "a"}) or t.labelled == frozenset({"c", "b"})


def test_values_that_are_not_identifiers_are_other() -> None:
    t = TenantLabeler(top_k=5)
    assert t.label("x" * 65) == OTHER
    assert t.label('a"b') == OTHER
    assert t.label("team-1.prod") == "team-1.prod"


@given(st.lists(st.text(max_size=20), max_size=300), st.integers(0, 5), st.sampled_from([0.0, 1e9]))
def test_at_most_k_tenants_are_labelled(values: list[str], k: int, refresh_s: float) -> None:
    t = TenantLabeler(top_k=k, capacity=8, refresh_s=refresh_s)
    seen = set()
    for v in values:
        seen.add(t.label(v))
        assert len(t.labelled) <= k
    assert len(t._counts) <= 8
    if refresh_s > 0:  # without a refresh the label set never changes once full
        assert len(seen - {OTHER, NONE}) <= k
