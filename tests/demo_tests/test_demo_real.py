"""The shortened demo on real components: a real vLLM, the proxy, both sidecars, the collector, a real
Prometheus with the generated rules and a real Alertmanager. The overload must page, the page must
resolve after it, and every SLI in the report must match what the load generator measured itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmslo_demo.config import DemoConfig
from llmslo_demo.run import PAGE_ALERT, run_demo

pytestmark = pytest.mark.e2e


def test_short_demo_pages_during_the_overload_and_resolves_after(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(DemoConfig.short(tmp_path), say=lines.append)
    phases = {name: (start, end) for name, start, end in result.phases}
    assert list(phases) == ["calm", "overload", "recovery"]
    page = [(t, status) for t, name, _, status in result.notifications if name == PAGE_ALERT]
    fired = [t for t, status in page if status == "firing"]
    resolved = [t for t, status in page if status == "resolved"]
    assert fired, "no page notification; demo output:\n" + "\n".join(lines)
    overload_start, overload_end = phases["overload"]
    # It pages during the overload, never in the calm phase, and resolves once the overload is over.
    assert overload_start < min(fired) <= overload_end + 15, (fired, phases)
    assert resolved and max(resolved) > overload_end, (resolved, phases)
    assert result.report is not None
    bad = [c for c in result.report.checks if not c.ok]
    assert not bad, bad
    names = {c.name for c in result.report.checks}
    assert {"output tokens (proxy)", "output tokens (engine, collector from spans)", "TTFT p50 (proxy histogram)",
            "TTFT distribution (proxy histogram)",
            "TTFT p99 (proxy histogram)"} <= names
    assert result.report.png.stat().st_size > 10_000
    assert "SLO report" in result.report.html.read_text()
    for generated in ("rules", "dashboards", "collector"):
        assert any((tmp_path / generated).iterdir()), generated
