"""OpenMetrics 1.0 text with exemplars, for scrapers that ask for it (Prometheus does when
exemplar storage is enabled). The plain 0.0.4 format carries no exemplars and comes from
`slo.metrics.write.write_exposition`, like every other llmslo endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporters.proxy.recorder import Exemplar, ExemplarKey
from slo.metrics.model import Labels, MetricFamily, MetricType
from slo.metrics.write import format_float

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def write_openmetrics(families: Iterable[MetricFamily], exemplars: Mapping[ExemplarKey, Exemplar]) -> str:
    out: list[str] = []
    for family in sorted(families, key=lambda f: f.name):
        name = family.name
        if family.type is MetricType.COUNTER and name.endswith("_total"):
            name = name[: -len("_total")]
        out.append(f"# TYPE {name} {family.type.value}\n# HELP {name} {_escape(family.help)}\n")
        for s in family.samples:
            line = f"{s.name}{_labels(s.labels)} {format_float(s.value)}"
            ex = exemplars.get((s.name, s.labels))
            if ex is not None:
                line += f' # {{request_id="{_escape(ex.request_id)}"}} {format_float(ex.value)} {ex.timestamp:.3f}'
            out.append(line + "\n")
    out.append("# EOF\n")
    return "".join(out)


def wants_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in accept
