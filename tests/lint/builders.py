"""Build small rule files and dashboards for table tests."""

from __future__ import annotations

import json


def rules_file(expr: str, *, kind: str = "record", name: str = "job:x:rate5m", labels: str = "",
               annotations: str = "") -> str:
    body = f"groups:\n- name: g\n  rules:\n  - {kind}: {name}\n    expr: |\n"
    body += "".join(f"      {line}\n" for line in expr.splitlines())
    if labels:
        body += f"    labels:\n{labels}"
    if annotations:
        body += f"    annotations:\n{annotations}"
    return body


def dashboard_file(*exprs: str) -> str:
    panels = [
        {"id": n + 1, "type": "timeseries", "title": f"p{n}", "datasource": {"type": "prometheus", "uid": "x"},
         "targets": [{"refId": "A", "expr": e}]}
        for n, e in enumerate(exprs)
    ]
    return json.dumps({"title": "t", "uid": "u", "panels": panels}, indent=2)
