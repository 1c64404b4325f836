"""The command: exit codes, the four output formats, suppression comments and the config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slo.lint.cli import main
from slo.lint.registry import CHECKS

from .builders import dashboard_file, rules_file

BAD_RULE = rules_file("rate(vllm:num_preemptions[5m])")  # promql/counter-without-total, an error
WARN_RULE = rules_file("sum by (le) (vllm:e2e_request_latency_seconds_bucket)")  # a warning only


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = _write(tmp_path, "clean.yaml", rules_file("rate(vllm:num_preemptions_total[5m])"))
    bad = _write(tmp_path, "bad.yaml", BAD_RULE)
    warn = _write(tmp_path, "warn.yaml", WARN_RULE)
    broken = _write(tmp_path, "broken.yaml", "groups: [\n")
    assert main([str(clean)]) == 0
    assert main([str(bad)]) == 1
    assert main([str(warn)]) == 0
    assert main(["--fail-on", "warning", str(warn)]) == 1
    assert main([str(broken)]) == 2
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert main(["--format", "xml", str(clean)]) == 2
    assert main(["--vllm-version", "latest", str(clean)]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml: no such file or directory" in err


def test_unreadable_input_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = _write(tmp_path, "broken.json", '{\n  "panels": [\n    {"targets": [}\n  ]\n}\n')
    assert main([str(broken)]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{broken}:3:")
    assert "input/unreadable" in line and "not valid JSON" in line


def test_human_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", BAD_RULE)
    main([str(bad)])
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{bad}:6:")
    assert ": promql/counter-without-total: `vllm:num_preemptions` is a counter" in line
    assert line.endswith("[error]")


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", BAD_RULE)
    main(["--format", "json", str(bad)])
    doc = json.loads(capsys.readouterr().out)
    (f,) = doc["findings"]
    assert f["check"] == "promql/counter-without-total" and f["severity"] == "error"
    assert (f["path"], f["line"]) == (str(bad), 6)
    assert doc["files"] == 1


def test_github_format_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "a,b.yaml", BAD_RULE)
    main(["--format", "github", str(bad)])
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("::error file=")
    assert "a%2Cb.yaml,line=6," in line
    assert "title=promql/counter-without-total::" in line


def test_sarif_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", BAD_RULE)
    main(["--format", "sarif", str(bad)])
    doc = json.loads(capsys.readouterr().out)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(CHECKS)
    (result,) = run["results"]
    assert result["ruleId"] == "promql/counter-without-total" and result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 6


def test_suppression_comment_on_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BAD_RULE.replace("  - record:", "  # slo-lint disable promql/counter-without-total\n  - record:")
    text += "  - record: other\n    expr: rate(vllm:num_preemptions[5m])\n"
    path = _write(tmp_path, "r.yaml", text)
    assert main([str(path)]) == 1
    (line,) = capsys.readouterr().out.splitlines()  # only the second rule is still reported
    assert line.startswith(f"{path}:{len(text.splitlines())}:")


def test_suppression_for_the_whole_file_and_inside_promql(tmp_path: Path) -> None:
    whole = _write(tmp_path, "w.yaml", "# slo-lint disable-file promql/counter-without-total\n" + BAD_RULE)
    assert main([str(whole)]) == 0
    board = dashboard_file("rate(vllm:num_preemptions[5m]) # slo-lint disable promql/counter-without-total")
    assert main([str(_write(tmp_path, "d.json", board))]) == 0
    assert main([str(_write(tmp_path, "e.json", dashboard_file("rate(vllm:num_preemptions[5m])")))]) == 1


def test_suppression_with_an_unknown_id_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "r.yaml", "# slo-lint disable promql/no-such-check\n" + BAD_RULE)
    main(["--format", "json", str(path)])
    checks = sorted(f["check"] for f in json.loads(capsys.readouterr().out)["findings"])
    assert checks == ["lint/bad-suppression", "promql/counter-without-total"]


def test_config_sets_severities_ignores_and_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "bad.yaml", BAD_RULE)
    _write(tmp_path, "old.yaml", rules_file("vllm:gpu_cache_usage_perc"))
    assert main(["bad.yaml"]) == 1
    _write(tmp_path, ".slo-lint.yaml", "severity:\n  promql/counter-without-total: warning\n")
    assert main(["bad.yaml"]) == 0
    _write(tmp_path, ".slo-lint.yaml", "severity:\n  promql/counter-without-total: off\n")
    capsys.readouterr()
    assert main(["bad.yaml"]) == 0
    assert capsys.readouterr().out == ""
    _write(tmp_path, ".slo-lint.yaml", "ignore:\n  - path: 'bad*'\n    checks: [promql/counter-without-total]\n")
    assert main(["bad.yaml"]) == 0
    assert main(["old.yaml"]) == 1
    _write(tmp_path, ".slo-lint.yaml", "engines:\n  vllm: '0.11.2'\n")
    assert main(["old.yaml"]) == 0
    assert main(["--vllm-version", "0.12.0", "old.yaml"]) == 1
    _write(tmp_path, ".slo-lint.yaml", "severity:\n  promql/no-such: error\n")
    assert main(["bad.yaml"]) == 2
    assert "unknown check id 'promql/no-such'" in capsys.readouterr().err
    assert main(["--config", "missing.yaml", "bad.yaml"]) == 2


def test_folder_discovery_skips_hidden_and_non_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    _write(tmp_path / ".git", "x.yaml", BAD_RULE)
    _write(tmp_path, "notes.txt", "rate(vllm:num_preemptions[5m])")
    _write(tmp_path, "unrelated.yaml", "a: 1\n")
    assert main([str(tmp_path)]) == 0
    assert "no problems in 1 file(s)" in capsys.readouterr().err


def test_list_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-checks"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(CHECKS)


def test_every_check_has_a_doc_page() -> None:
    root = Path(__file__).resolve().parents[2]
    index = (root / "docs" / "lint" / "index.md").read_text()
    for check in CHECKS.values():
        page = root / check.doc
        assert page.is_file(), page
        text = page.read_text()
        assert text.startswith(f"# `{check.id}`"), page
        assert check.severity.label in text and "slo-lint disable" in text
        assert check.id in index
