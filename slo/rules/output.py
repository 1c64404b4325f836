"""Plan and write the output folder of `llmslo rules generate`.

    DIR/<spec>.rules.yaml            plain Prometheus rule file, one group per SLO of that spec
    DIR/<spec>.prometheusrule.yaml   the same groups as a monitoring.coreos.com/v1 PrometheusRule
    DIR/tests/<slo>.test.yaml        promtool test rules files for that SLO (event SLIs), and
    DIR/tests/<slo>.budget.test.yaml the multi-day ones, evaluated every 5m

Planning is pure (path -> text); writing replaces only these files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePath

from slo.files import write_files
from slo.rules.generate import generate
from slo.rules.model import Group
from slo.rules.promtool_tests import test_files
from slo.rules.render import HEADER, dump_yaml, render_both
from slo.spec import SLO

TESTS_DIR = "tests"


def _stem(source: str) -> str:
    stem = PurePath(source).stem if source else "slos"
    return re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-") or "slos"


def plan(slos: Sequence[SLO], namespace: str | None = None, with_tests: bool = True) -> dict[str, str]:
    """Relative output path -> file text, for every file the SLOs produce."""
    groups = generate(slos)
    by_source: dict[str, list[Group]] = {}
    for g in groups:
        by_source.setdefault(g.source, []).append(g)
    stems: dict[str, str] = {}
    for source in sorted(by_source):
        stem = _stem(source)
        while stem in stems.values():
            stem += "-x"
        stems[source] = stem
    files: dict[str, str] = {}
    for source, gs in by_source.items():
        stem = stems[source]
        rule_file, prometheus_rule = render_both(gs, f"llmslo-{stem}", namespace)
        files[f"{stem}.rules.yaml"] = rule_file
        files[f"{stem}.prometheusrule.yaml"] = prometheus_rule
    if with_tests:
        source_of = {g.slo: g.source for g in groups}
        for slo in slos:
            docs = test_files(slo, f"../{stems[source_of[slo.name]]}.rules.yaml")
            for suffix, doc in docs.items():
                files[f"{TESTS_DIR}/{slo.name}.{suffix}.yaml"] = HEADER + dump_yaml(doc)
    return dict(sorted(files.items()))


def write(files: dict[str, str], out_dir: Path) -> list[Path]:
    return write_files(files, out_dir)
