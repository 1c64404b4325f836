"""drift/stale-artifact on the collector config: `llmslo collector config --slo-spec ...` is re-run and
compared with what is committed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def lint(cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run([str(Path(sys.executable).parent / "slo-lint"), "specs", "collector-out", "--format", "json"],
                          cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return [f for f in findings if str(f["check"]).startswith("drift/")]


def test_collector_config_drift_is_found_and_a_fresh_one_is_clean(tmp_path: Path) -> None:
    shutil.copytree(REPO / "slo" / "examples", tmp_path / "specs", ignore=shutil.ignore_patterns("_gen"))
    subprocess.run([sys.executable, "-m", "slo.cli", "collector", "config", "--slo-spec", "specs", "-o",
                    "collector-out"], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / ".slo-lint.yaml").write_text(
        "generated:\n  - kind: collector\n    specs: [specs]\n    output: collector-out\n")
    assert lint(tmp_path) == []
    with (tmp_path / "collector-out" / "otelcol-config.yaml").open("a") as f:
        f.write("# edited by hand\n")
    drift = lint(tmp_path)
    assert [f["check"] for f in drift] == ["drift/stale-artifact"]
    assert "otelcol-config.yaml" in str(drift[0]["path"])
