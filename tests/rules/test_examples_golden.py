"""The example specs' generated output is committed under slo/examples/_gen and must match byte for
byte; `pytest --update-golden` rewrites it."""

from __future__ import annotations

from pathlib import Path

from slo.rules.output import plan, write
from slo.spec import load_specs

EXAMPLES = Path(__file__).resolve().parents[2] / "slo" / "examples"
GEN = EXAMPLES / "_gen"


def test_example_outputs_match_goldens(update_golden: bool) -> None:
    files = plan(load_specs(sorted(EXAMPLES.glob("*.yaml"))))
    assert {"ttft-per-model.rules.yaml", "availability-per-tenant.rules.yaml", "goodput.rules.yaml"} <= set(files)
    if update_golden:
        for stale in GEN.rglob("*.yaml"):
            if stale.relative_to(GEN).as_posix() not in files:
                stale.unlink()
        write(files, GEN)
    committed = {p.relative_to(GEN).as_posix(): p.read_text(encoding="utf-8") for p in GEN.rglob("*.yaml")}
    assert sorted(committed) == sorted(files), "run pytest --update-golden to regenerate slo/examples/_gen"
    for rel, text in files.items():
        assert committed[rel] == text, f"{rel} differs; run pytest --update-golden to regenerate"
