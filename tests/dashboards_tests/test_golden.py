"""Golden files for everything `llmslo dashboards generate` writes, byte for byte.

A change to a query, a panel or the layout shows up as a diff to review. Regenerate with
`pytest tests/dashboards_tests --update-golden` (or UPDATE_GOLDEN=1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.generate import render

from .support_boards import all_boards

GOLDEN = Path(__file__).parent / "golden"


def test_generated_files_match_golden(update_golden: bool) -> None:
    files = render(all_boards())
    if update_golden:
        for stale in sorted(p for p in GOLDEN.rglob("*") if p.is_file()):
            if str(stale.relative_to(GOLDEN)) not in files:
                stale.unlink()
        for rel, text in files.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    on_disk = sorted(str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file())
    assert on_disk == sorted(files), "golden files differ from the generated set; rerun with --update-golden"
    for rel, text in files.items():
        assert (GOLDEN / rel).read_text(encoding="utf-8") == text, f"{rel} differs from its golden file"


def test_generation_is_deterministic() -> None:
    assert render(all_boards()) == render(all_boards())


def test_nothing_to_write_is_an_error() -> None:
    with pytest.raises(ValueError, match="no dashboards"):
        render([])
