"""`llmslo collector config`: golden output, every key checked against the pinned collector
version's component schemas, the manifests validated by kubernetes-validate, the scrape configs by
the real promtool."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from collector.deploy.otelcol import ConfigOptions, build_config
from collector.deploy.schema import check_config, check_operator_resource
from collector.deploy.write import HEADER, render
from collector.goodput import GoodputConfigError, GoodputSLO, from_specs, parse_targets

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "config"
SPEC = REPO / "slo" / "examples" / "goodput.yaml"
K8S_VERSION = "1.30"


def generated() -> dict[str, str]:
    return render(ConfigOptions(otlp_backend_url="https://otlp.example.com"), from_specs([SPEC]))


def test_generated_files_match_golden(update_golden: bool) -> None:
    files = generated()
    for rel, text in files.items():
        golden = GOLDEN / rel
        if update_golden:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
        if not golden.exists():
            pytest.fail(f"{golden} is missing; create it with --update-golden and review it")
        assert text == golden.read_text(encoding="utf-8"), rel
        assert text.startswith(HEADER)
    assert sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.yaml")) == sorted(files)


def test_generated_config_conforms_to_the_schema_facts() -> None:
    config = yaml.safe_load(generated()["otelcol-config.yaml"])
    assert check_config(config) == []
    resource = yaml.safe_load(generated()["kubernetes/opentelemetrycollector.yaml"])
    assert check_operator_resource(resource) == []
    assert resource["spec"]["config"] == config


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        pytest.param(("processors", "batch", "send_batch_sise"), 1, "send_batch_sise: not a key", id="typo"),
        pytest.param(("exporters", "otlphttp/llmslo", "tls", "insecur"), True, "tls.insecur", id="nested-typo"),
        pytest.param(("receivers", "prometheus", "config", "scrape_configs", 0, "relabel_config"), [],
                     "relabel_config: not a key", id="prometheus-typo"),
        pytest.param(("processors", "memory_limiter", "check_interval"), None, "needs check_interval",
                     id="memory-limiter-limits"),
        pytest.param(("service", "pipelines", "traces", "processors"), ["batch", "memory_limiter"],
                     "memory_limiter must be the first", id="limiter-order"),
        pytest.param(("service", "pipelines", "traces", "exporters"), ["otlp/nowhere"], "not declared",
                     id="undeclared"),
        pytest.param(("processors", "groupbyattrs"), {}, "no schema facts", id="unknown-component"),
    ],
)
def test_schema_check_catches_mistakes(path: tuple[object, ...], value: object, problem: str) -> None:
    config = copy.deepcopy(build_config(ConfigOptions()))
    node = config
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    problems = check_config(config)
    assert any(problem in p for p in problems), problems


def test_manifests_validate_with_kubernetes_validate() -> None:
    files = generated()
    kinds = []
    for rel in ("kubernetes/llmslo-collector.yaml", "kubernetes/otelcol-rbac.yaml"):
        for doc in yaml.safe_load_all(files[rel]):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service",
                             "ServiceAccount"]


def test_a_broken_manifest_is_caught_by_kubernetes_validate() -> None:
    doc = next(d for d in yaml.safe_load_all(generated()["kubernetes/llmslo-collector.yaml"])
               if d["kind"] == "Deployment")
    doc["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_scrape_configs_pass_promtool(tmp_path: Path) -> None:
    config = yaml.safe_load(generated()["otelcol-config.yaml"])
    scrape_configs = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    # Debian's promtool is built without the Kubernetes service discovery plugin ("field
    # kubernetes_sd_configs not found"), so that one block is swapped for a static target; the rest
    # (relabelling, intervals, job names) is checked by the real parser.
    for job in scrape_configs:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": ["placeholder:80"]}]
    prometheus = {"scrape_configs": scrape_configs}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(prometheus))
    result = subprocess.run(["promtool", "check", "config", "--syntax-only", str(path)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_goodput_from_the_example_spec_reaches_the_configmap() -> None:
    assert from_specs([SPEC]) == (GoodputSLO("goodput-chat", (("tpot", 0.05), ("ttft", 0.5))),)
    configmap = next(yaml.safe_load_all(generated()["kubernetes/llmslo-collector.yaml"]))
    assert parse_targets(yaml.safe_load(configmap["data"]["goodput.yaml"]), "configmap") == from_specs([SPEC])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"goodput": [{"name": "a", "targets": {"itl": 0.1}}]}, "not a per-request SLI"),
        ({"goodput": [{"name": "a", "targets": {"ttft": -1}}]}, "Must be a number > 0"),
        ({"goodput": [{"name": "a", "targets": {}}]}, "no targets"),
        ({"goodput": [{"name": "a", "targets": {"ttft": 1}}, {"name": "a", "targets": {"ttft": 1}}]}, "unique"),
        ({"slos": []}, "goodput` list"),
    ],
)
def test_bad_goodput_targets_are_located_errors(doc: object, message: str) -> None:
    with pytest.raises(GoodputConfigError, match=message) as info:
        parse_targets(doc, "targets.yaml")
    assert "targets.yaml" in str(info.value)


def test_cli_writes_the_files(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "slo.cli", "collector", "config", "-o", str(tmp_path),
                             "--slo-spec", str(SPEC), "--otlp-backend-url", "https://otlp.example.com"],
                            capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    for rel, text in generated().items():
        assert (tmp_path / rel).read_text(encoding="utf-8") == text


def test_every_schema_fact_is_written_down_with_its_source() -> None:
    from collector.deploy.schema import COMPONENTS, OPERATOR_SOURCE

    doc = (REPO / "docs" / "collector.md").read_text(encoding="utf-8")
    for component in COMPONENTS:
        assert component.source.split(" (")[0] in doc, component.type
        assert f"`{component.type}`" in doc
    assert OPERATOR_SOURCE.split(" (")[0] in doc
