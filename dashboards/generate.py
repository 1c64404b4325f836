"""Generate every dashboard with its ConfigMap and the provisioning file: a pure mapping from SLO
specs to {relative path: file text}, and one function that writes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dashboards.grafana import provisioning
from dashboards.grafana.encode import GENERATED_BY, dumps
from dashboards.llm import gpu, serving, tenants
from slo.files import write_files

COMMAND = "dashboards generate"
FOLDER = "LLM SLOs"
PROVISIONING_PATH = "/var/lib/grafana/dashboards/llmslo"
K8S_LABELS = (("app.kubernetes.io/name", "llmslo"), ("app.kubernetes.io/component", "dashboards"))

Builder = Callable[[], dict[str, Any]]
BUILDERS: tuple[Builder, ...] = (serving.build, gpu.build, tenants.build)


def boards(slo_dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The dashboards, in a fixed order; the SLO dashboard only when specs were given."""
    out = [build() for build in BUILDERS]
    if slo_dashboard is not None:
        out.append(slo_dashboard)
    return out


def render(all_boards: Sequence[dict[str, Any]], *, namespace: str | None = None) -> dict[str, str]:
    """{relative path: text} for the JSON files, one ConfigMap each and the provisioning file."""
    if not all_boards:
        raise ValueError("no dashboards to write")
    header = GENERATED_BY.format(command=COMMAND)
    files: dict[str, str] = {}
    for board in all_boards:
        uid = board["uid"]
        files[f"{uid}.json"] = dumps(board)
        files[f"kubernetes/{uid}.configmap.yaml"] = provisioning.configmap(
            board, name=f"{uid}-dashboard", header=header, folder=FOLDER, namespace=namespace, labels=K8S_LABELS)
    files["provisioning/llmslo-dashboards.yaml"] = provisioning.file_provider(
        name="llmslo", folder=FOLDER, path=PROVISIONING_PATH, header=header)
    return dict(sorted(files.items()))


def write(files: dict[str, str], out_dir: Path) -> list[Path]:
    return write_files(files, out_dir)
