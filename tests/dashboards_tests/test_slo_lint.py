"""`slo-lint` reports nothing on the generated dashboards, and does read them as dashboards (the same
file with one reference-dashboard defect put back is reported)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.generate import render
from slo.lint.cli import main as slo_lint

from .support_boards import all_boards


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    for rel, text in render(all_boards()).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    return out


def test_slo_lint_reports_nothing(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = slo_lint(["--format", "json", "--fail-on", "info", "--no-drift", str(generated)])
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == []
    assert report["files"] == len(list(generated.rglob("*.*")))
    assert rc == 0


def test_slo_lint_sees_a_defect_put_back(generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = json.loads((generated / "llmslo-serving.json").read_text())
    target = next(p for p in board["panels"] if p["type"] != "row")["targets"][0]
    target["expr"] = "histogram_quantile(0.9, rate(gen_ai_server_time_to_first_token_seconds_bucket[5m]))"
    (tmp_path / "board.json").write_text(json.dumps(board))
    assert slo_lint(["--format", "json", "--no-drift", str(tmp_path)]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["check"] for f in findings] == ["promql/quantile-without-le"]
