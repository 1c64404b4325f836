"""`llmslo dashboards generate` and `render-png` through the real umbrella CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.real_vllm import free_port

from dashboards.generate import render
from slo.cli import main

from .support_boards import all_boards

GOLDEN = Path(__file__).parent / "golden"
SPEC = str(Path(__file__).parent / "data" / "slos.yaml")


def test_generate_writes_the_golden_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "generate", "--slo", SPEC, "-o", str(tmp_path)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    expected = render(all_boards())  # what test_golden.py compares with the golden files
    assert written == sorted(expected)
    for rel in written:
        assert (tmp_path / rel).read_text(encoding="utf-8") == expected[rel]
    assert len(capsys.readouterr().out.splitlines()) == len(written)


def test_check_passes_when_up_to_date_and_fails_on_drift(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "generate", "-o", str(tmp_path)]) == 0
    assert main(["dashboards", "generate", "-o", str(tmp_path), "--check"]) == 0
    board = tmp_path / "llmslo-serving.json"
    board.write_text(board.read_text().replace("Requests/s", "Requests"))
    capsys.readouterr()
    assert main(["dashboards", "generate", "-o", str(tmp_path), "--check"]) == 1
    assert "llmslo-serving.json: out of date" in capsys.readouterr().err


def test_namespace_goes_on_every_configmap(tmp_path: Path) -> None:
    assert main(["dashboards", "generate", "-o", str(tmp_path), "--namespace", "monitoring"]) == 0
    for path in (tmp_path / "kubernetes").glob("*.yaml"):
        assert "\n  namespace: monitoring\n" in path.read_text()


def test_render_png_reports_a_bad_dashboard_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc = main(["dashboards", "render-png", str(bad), "--prometheus", "http://127.0.0.1:9", "-o",
               str(tmp_path / "x.png")])
    assert rc == 1
    assert "bad.json" in capsys.readouterr().err


def test_render_png_rejects_a_malformed_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = tmp_path / "b.json"
    board.write_text(json.dumps(json.loads((GOLDEN / "llmslo-tenants.json").read_text())))
    rc = main(["dashboards", "render-png", str(board), "--prometheus", "http://127.0.0.1:9", "-o",
               str(tmp_path / "x.png"), "--var", "bad"])
    assert rc == 1
    assert "NAME=VALUE" in capsys.readouterr().err


def test_render_png_reports_an_unreachable_prometheus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["dashboards", "render-png", str(GOLDEN / "llmslo-tenants.json"), "--prometheus",
               f"http://127.0.0.1:{free_port()}", "-o", str(tmp_path / "x.png")])
    assert rc == 1
    assert "vector(1)" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_without_specs_there_is_no_slo_dashboard(tmp_path: Path) -> None:
    assert main(["dashboards", "generate", "-o", str(tmp_path)]) == 0
    assert not (tmp_path / "llmslo-slos.json").exists()
    assert (tmp_path / "llmslo-serving.json").read_text(encoding="utf-8") == render(all_boards())["llmslo-serving.json"]


def test_a_bad_spec_is_reported_with_its_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: llmslo/v1\nslos:\n  - name: x\n    sli: {kind: latency, threshold: 0.3}\n"
                    "    objective: 99\n")
    assert main(["dashboards", "generate", "--slo", str(spec), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml:4" in err and "0.3" in err
    assert not (tmp_path / "out").exists()
