"""OpenMetrics 1.0 text with exemplars, for scrapers that ask for it (Prometheus does when
exemplar storage is enabled). The plain 0.0.4 format carries no exemplars and comes from
`slo.metrics.write.write_exposition`, like every other llmslo endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exporters.proxy.recorder import Exemplar, ExemplarKey
from slo.metrics.model import MetricFamily, MetricType
from slo.metrics.write import escape_label_value, format_float, render_labels


def write_openmetrics(families: Iterable[MetricFamily], exemplars: Mapping[ExemplarKey, Exemplar]) -> str:
    out: list[str] = []
    for family in sorted(families, key=lambda f: f.name):
        name = family.name
        if family.type is MetricType.COUNTER and name.endswith("_total"):
            name = name[: -len("_total")]
        out.append(f"# TYPE {name} {family.type.value}\n# HELP {name} {escape_label_value(family.help)}\n")
        for s in family.samples:
            line = f"{s.name}{render_labels(s.labels)} {format_float(s.value)}"
            ex = exemplars.get((s.name, s.labels))
            if ex is not None:
                request_id = escape_label_value(ex.request_id)
                line += f' # {{request_id="{request_id}"}} {format_float(ex.value)} {ex.timestamp:.3f}'
            out.append(line + "\n")
    out.append("# EOF\n")
    return "".join(out)

