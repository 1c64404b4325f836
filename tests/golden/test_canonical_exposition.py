"""Golden files: the canonical /metrics body the sidecars produce for every real capture.

Byte-for-byte: a change in mapping, naming, ordering or formatting shows up as a diff to review.
Regenerate with `pytest tests/golden --update-golden` (or UPDATE_GOLDEN=1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.captures import DCGM, SHARED_FIXTURES, VLLM_032, VLLM_V0, read

from exporters.pipeline import DCGM as DCGM_PROFILE
from exporters.pipeline import VLLM, Profile, canonical_exposition

GOLDEN = Path(__file__).parent / "canonical"
POD = (("namespace", "llm"), ("pod", "vllm-0"))

CASES = [
    *[pytest.param(p, VLLM, POD, id=p.name) for p in sorted(VLLM_032.glob("*.prom"))],
    pytest.param(VLLM_V0, VLLM, POD, id=VLLM_V0.name),
    pytest.param(DCGM, DCGM_PROFILE, (), id=DCGM.name),
]


def test_every_real_capture_has_a_case() -> None:
    covered = {p.values[0] for p in CASES}  # type: ignore[attr-defined]
    assert set(SHARED_FIXTURES.rglob("*.prom")) == covered


@pytest.mark.parametrize(("capture", "profile", "labels"), CASES)
def test_canonical_output_matches_golden(
    capture: Path, profile: Profile, labels: tuple[tuple[str, str], ...], update_golden: bool
) -> None:
    out = canonical_exposition(read(capture), profile, extra_labels=labels)
    golden = GOLDEN / f"{capture.parent.name}__{capture.name}" if capture.parent != SHARED_FIXTURES \
        else GOLDEN / capture.name
    if update_golden or not golden.exists():
        if not update_golden:
            pytest.fail(f"{golden.name} is missing; create it with --update-golden and review it")
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")
