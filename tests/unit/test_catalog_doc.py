"""docs/sli-catalog.md is generated; this fails when the committed copy is stale.
Regenerate with `llmslo catalog docs -o docs/sli-catalog.md` (or pytest --update-golden)."""

from __future__ import annotations

from support.captures import REPO

from slo.catalog_doc import HEADER, render

DOC = REPO / "docs" / "sli-catalog.md"


def test_committed_catalog_doc_is_current(update_golden: bool) -> None:
    fresh = render()
    if update_golden:
        DOC.write_text(fresh, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == fresh, "run: llmslo catalog docs -o docs/sli-catalog.md"


def test_doc_starts_with_generated_header_and_covers_every_sli() -> None:
    from slo.catalog import CATALOG

    text = render()
    assert text.startswith(HEADER)
    for sli in CATALOG:
        assert f"`{sli.prom_name}`" in text
