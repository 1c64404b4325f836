"""The real promtool: every generated file passes `check rules`, the generated behaviour tests pass,
and they fail when the alerts are wrong (so they prove something)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slo.rules.output import plan, write
from slo.spec import load_specs

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "slo" / "examples"


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing (Debian package prometheus; scripts/setup installs it)"
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rules")
    write(plan(load_specs(sorted(EXAMPLES.glob("*.yaml")))), out)
    return out


def test_check_rules_passes_on_every_rule_file(generated: Path) -> None:
    files = sorted(generated.glob("*.rules.yaml"))
    assert len(files) == 3
    result = _promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS: 15 rules found") == 3


def test_check_rules_passes_on_the_prometheus_rule_groups(generated: Path, tmp_path: Path) -> None:
    for path in sorted(generated.glob("*.prometheusrule.yaml")):
        spec = yaml.safe_load(path.read_text())["spec"]
        extracted = tmp_path / path.name
        extracted.write_text(yaml.safe_dump(spec))
        result = _promtool("check", "rules", extracted)
        assert result.returncode == 0, result.stdout + result.stderr


def test_generated_behaviour_tests_pass(generated: Path) -> None:
    tests = sorted((generated / "tests").glob("*.yaml"))
    names = {p.name for p in tests}
    assert {"ttft-per-model.test.yaml", "ttft-per-model.budget.test.yaml"} <= names
    text = (generated / "tests" / "ttft-per-model.test.yaml").read_text()
    for scenario in ("total outage pages", "page clears within the short window", "a steady 6x burn pages",
                     "below min_traffic never pages"):
        assert scenario in text
    budget = (generated / "tests" / "ttft-per-model.budget.test.yaml").read_text()
    assert "opens no ticket before the budget math" in budget
    result = _promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_behaviour_tests_catch_a_wrong_burn_factor(generated: Path, tmp_path: Path) -> None:
    """Alerts that page too late (a 30x factor instead of 14.4x) must fail the generated tests."""
    rules = (generated / "ttft-per-model.rules.yaml").read_text()
    assert "(0.0144 - 1e-12)" in rules
    (tmp_path / "ttft-per-model.rules.yaml").write_text(rules.replace("(0.0144 - 1e-12)", "(0.03 - 1e-12)"))
    (tmp_path / "tests").mkdir()
    shutil.copy(generated / "tests" / "ttft-per-model.test.yaml", tmp_path / "tests")
    result = _promtool("test", "rules", tmp_path / "tests" / "ttft-per-model.test.yaml")
    assert result.returncode != 0
    assert "a steady 14.4x burn pages within the 1h/5m detection time" in result.stdout + result.stderr
