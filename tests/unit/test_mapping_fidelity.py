"""`llmslo_sli_mapping_info` tells the truth when the mapper rejects what a source served."""

from __future__ import annotations

from slo.catalog import Fidelity, SourceKind
from slo.mapping import map_to_canonical
from slo.metrics.parse import parse_exposition

TTFT = "vllm:time_to_first_token_seconds"


def _histogram(engines: dict[str, float]) -> str:
    """One TTFT child per engine; `count` is what `_count` says (the +Inf bucket holds 3)."""
    lines = [f"# TYPE {TTFT} histogram"]
    for engine, count in engines.items():
        labels = f'engine="{engine}",model_name="m"'
        lines += [
            f'{TTFT}_bucket{{{labels},le="0.1"}} 1.0',
            f'{TTFT}_bucket{{{labels},le="+Inf"}} 3.0',
            f"{TTFT}_count{{{labels}}} {count}",
            f"{TTFT}_sum{{{labels}}} 0.5",
        ]
    return "\n".join(lines) + "\n"


def _fidelity(text: str, sli: str) -> tuple[Fidelity, int, bool]:
    result = map_to_canonical(parse_exposition(text).families, SourceKind.VLLM)
    note = next(n for n in result.notes if n.sli == sli)
    served = any(f.name.startswith("gen_ai_server_time_to_first_token") for f in result.families)
    return note.fidelity, len(result.issues), served


def test_every_child_dropped_is_unavailable_not_exact() -> None:
    assert _fidelity(_histogram({"0": 2.0}), "ttft") == (Fidelity.UNAVAILABLE, 1, False)
    assert _fidelity(_histogram({"0": 2.0, "1": 7.0}), "ttft") == (Fidelity.UNAVAILABLE, 2, False)


def test_some_children_served_keep_their_fidelity() -> None:
    fidelity, issues, served = _fidelity(_histogram({"0": 2.0, "1": 3.0}), "ttft")
    assert fidelity is not Fidelity.UNAVAILABLE and (issues, served) == (1, True)
    assert _fidelity(_histogram({"0": 3.0}), "ttft")[1:] == (0, True)


def test_every_counter_series_rejected_is_unavailable() -> None:
    name = "vllm:generation_tokens_total"
    text = f"# TYPE {name} counter\n{name}{{engine=\"0\"}} -1.0\n{name}{{engine=\"1\"}} NaN\n"
    result = map_to_canonical(parse_exposition(text).families, SourceKind.VLLM)
    notes = {n.sli: n for n in result.notes}
    rejected = [n for n in notes.values() if n.source_metric == name]
    assert rejected and all(n.fidelity is Fidelity.UNAVAILABLE for n in rejected)
    assert len(result.issues) == 2 * len(rejected)
    good = text.replace("-1.0", "4.0")
    notes = {n.sli: n for n in map_to_canonical(parse_exposition(good).families, SourceKind.VLLM).notes}
    assert all(n.fidelity is not Fidelity.UNAVAILABLE for n in notes.values() if n.source_metric == name)
