"""The SLO dashboard: one row per SLO of the specs, on the recording rules `slo.rules` generates
(names from `slo.rules.conventions`, window pairs from `slo.rules.windows`).

Each row: the SLI over the SLO window against the objective, the error budget left, alerts firing,
attainment tiles (latency SLOs: the share of requests within the threshold and its neighbouring
bucket boundaries, read from the histogram; others: the SLI over each alert window), the SLI against
the objective over time, and the burn rate over each alert window against its page and ticket
factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from dashboards.grafana import panels as p
from dashboards.grafana import variables as var
from dashboards.grafana.encode import dashboard
from dashboards.grafana.layout import Section
from dashboards.grafana.panels import Step
from dashboards.grafana.query import PromTarget
from dashboards.llm import common as c
from dashboards.llm import promql as q
from slo.catalog import get
from slo.rules import conventions as cv
from slo.rules.windows import Pair, pairs_for
from slo.spec import SLO, Instance, expand, format_duration, load_specs
from slo.spec.errors import SpecError

UID = "llmslo-slos"
# Dashboard variables that filter an SLO's series when the SLO is grouped by that label.
FILTER_VARIABLES = {"model_name": "model", "tenant": "tenant"}


def _dec(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _matchers(inst: Instance) -> list[str]:
    out = [f'{cv.SLO_LABEL}="{inst.slo.name}"']
    out += [f'{label}=~"${name}"' for label, name in FILTER_VARIABLES.items() if label in inst.group_labels]
    return out


def _series(name: str, inst: Instance) -> str:
    return f"{name}{{{', '.join(_matchers(inst))}}}"


def _ratio(name: str, inst: Instance) -> str:
    """An error-ratio rule without its NaN samples: the rules record 0/0 = NaN while there is no traffic,
    and NaN >= 0 is false, so an idle window shows the panel's "no traffic" instead of NaN."""
    return f"({_series(name, inst)} >= 0)"


def _legend(inst: Instance, suffix: str = "") -> str:
    names = " ".join(f"{{{{{label}}}}}" for label in inst.group_labels) or inst.slo.name
    return f"{names} {suffix}".strip()


def _objective_steps(slo: SLO) -> tuple[Step, ...]:
    return (Step(float(slo.objective_ratio), "green"),)


def _sli_stat(inst: Instance) -> Any:
    slo = inst.slo
    return p.stat(f"SLI over {slo.window}", _describe(slo, f"The SLI over the SLO window ({slo.window}), "
                                                           f"traffic-weighted: red below the objective "
                                                           f"{slo.objective}%."),
                  [PromTarget(f"1 - {_ratio(cv.ERROR_RATIO_PERIOD, inst)}", _legend(inst))], unit=c.RATIO,
                  steps=_objective_steps(slo), base_color="red", decimals=3, no_value=c.NO_TRAFFIC,
                  mappings=p.nan_as(c.NO_TRAFFIC))


def _budget_stat(inst: Instance) -> Any:
    slo = inst.slo
    return p.stat("Error budget remaining", _describe(slo, f"Share of the error budget ({_dec(slo.error_budget)} "
                                                           f"of events over {slo.window}) not yet spent: 1 - error "
                                                           "ratio / budget. Below 0 the SLO is breached."),
                  [PromTarget(f"{_series(cv.BUDGET_REMAINING, inst)} > -Inf", _legend(inst))], unit=c.RATIO,
                  steps=(Step(0.0, "orange"), Step(0.25, "green")), base_color="red", decimals=1,
                  no_value=c.NO_TRAFFIC)


def _alerts_stat(inst: Instance) -> Any:
    slo = inst.slo
    targets = [PromTarget(f'count(ALERTS{{alertstate="firing", {cv.SLO_LABEL}="{slo.name}", '
                          f'{cv.SEVERITY_LABEL}="{sev}"}}) or vector(0)', sev) for sev in ("page", "ticket")]
    return p.stat("Alerts firing", _describe(slo, "Burn-rate and no-data alerts of this SLO now firing, by "
                                                  "severity (Prometheus' ALERTS series)."),
                  targets, unit=c.COUNT, steps=(Step(1.0, "red"),), width=4)


def _attainment(inst: Instance) -> Any:
    slo = inst.slo
    sli = slo.sli
    if sli.kind in ("latency", "token_latency"):
        key, threshold = sli.metric, sli.threshold
        bounds = get(key).boundaries
        i = bounds.index(threshold)
        tiles = [b for b in (bounds[i - 1] if i > 0 else None, threshold,
                             bounds[i + 1] if i + 1 < len(bounds) else None) if b is not None]
        filters = [f'{k}="{v}"' for k, v in inst.matchers]
        filters += [f'{label}=~"${name}"' for label, name in FILTER_VARIABLES.items() if label in inst.group_labels]
        targets = [PromTarget(q.share_within(key, b, inst.group_labels, filters, "$__range"),
                              _legend(inst, f"<= {b:g} s" + (" (SLO)" if b == threshold else "")))
                   for b in tiles]
        how = (f"Share of {key} observations at or below {threshold:g} s (the SLO threshold, a bucket boundary) "
               "and at its neighbouring boundaries, over the dashboard's time range: how far the SLO is from "
               "passing or failing at the next bucket.")
    else:
        targets = [PromTarget(f"1 - {_ratio(cv.error_ratio(w), inst)}", _legend(inst, format_duration(w)))
                   for w in _windows(slo)]
        how = "The SLI over each alert window (from the recording rules)."
    return p.stat("Attainment", _describe(slo, how), targets, unit=c.RATIO, steps=_objective_steps(slo),
                  base_color="red", decimals=2, no_value=c.NO_TRAFFIC, width=12)


def _windows(slo: SLO) -> list[int]:
    pairs = pairs_for(slo)
    return sorted({cv.BASE_WINDOW_S, *(x.short_s for x in pairs), *(x.long_s for x in pairs)})


def _sli_vs_objective(inst: Instance) -> Any:
    slo = inst.slo
    targets = [PromTarget(f"1 - {_ratio(cv.error_ratio(w), inst)}", _legend(inst, f"SLI {format_duration(w)}"))
               for w in (cv.BASE_WINDOW_S, 3600)]
    targets.append(PromTarget(f'{cv.OBJECTIVE}{{{cv.SLO_LABEL}="{slo.name}"}}', "objective"))
    return p.timeseries("SLI vs objective", _describe(slo, "The SLI over 5m and 1h against the objective."),
                        targets, unit=c.RATIO, max_=1, no_value=c.NO_TRAFFIC, width=12)


def _burn_steps(pairs: Sequence[Pair]) -> tuple[Step, ...]:
    """One dashed line per distinct factor: orange for ticket pairs, red for page pairs."""
    colors: dict[float, str] = {}
    for pair in pairs:
        factor = float(pair.factor)
        colors[factor] = "red" if pair.severity == "page" or colors.get(factor) == "red" else "orange"
    return tuple(Step(f, colors[f]) for f in sorted(colors))


def _burn_rate(inst: Instance) -> Any:
    slo = inst.slo
    pairs = pairs_for(slo)
    budget = _dec(slo.error_budget)
    targets = [PromTarget(f"{_ratio(cv.error_ratio(w), inst)} / {budget}", _legend(inst, format_duration(w)))
               for w in _windows(slo)]
    table = "; ".join(f"{x.severity} when {format_duration(x.long_s)} and {format_duration(x.short_s)} burn at >= "
                      f"{_dec(x.factor)}x" for x in pairs)
    return p.timeseries("Burn rate per window",
                        _describe(slo, f"Error ratio over each alert window divided by the budget ({budget}): 1 "
                                       f"spends the budget exactly over {slo.window}. Dashed lines are the alert "
                                       f"factors: {table or 'no burn alerts enabled'}."),
                        targets, unit="x", min_=0, steps=_burn_steps(pairs), no_value=c.NO_TRAFFIC, width=12)


def _describe(slo: SLO, how: str) -> str:
    what = slo.description or f"{slo.sli.kind} SLO, objective {slo.objective}% over {slo.window}."
    return f"{how}\n\nSLO `{slo.name}`: {what}"


def _section(inst: Instance) -> Section:
    slo = inst.slo
    title = f"{slo.name}: {slo.sli.kind} {slo.objective}% over {slo.window}"
    return Section(title, (_sli_stat(inst), _budget_stat(inst), _alerts_stat(inst), _attainment(inst),
                           _sli_vs_objective(inst), _burn_rate(inst)))


def build(slos: Sequence[SLO]) -> dict[str, Any]:
    """The SLO dashboard for `slos` (one row each, sorted by name)."""
    if not slos:
        raise ValueError("no SLOs: the SLO dashboard needs at least one")
    instances = sorted((i for s in slos for i in expand(s)), key=lambda i: i.slo.name)
    grouped = {label for i in instances for label in i.group_labels}
    events = cv.events_rate()
    variables = [var.datasource()]
    for label, name in FILTER_VARIABLES.items():
        if label in grouped:
            variables.append(var.label_values(name, label, events, label.replace("_", " ").capitalize()))
    return dashboard(
        uid=UID, title="LLM SLOs",
        description="One row per SLO of the specs: SLI against objective, error budget, attainment, burn rate "
                    "per alert window and alerts firing, from the recording rules of `llmslo rules generate`.",
        tags=(*c.TAGS, "slo"), variables=variables, sections=[_section(i) for i in instances], links=c.links(),
    )


def build_from_paths(paths: Sequence[Path]) -> dict[str, Any]:
    """Load the specs (files or folders) and build; a spec problem is a ValueError with every location."""
    try:
        slos = load_specs([str(path) for path in paths])
    except SpecError as exc:
        raise ValueError(str(exc)) from exc
    return build(slos)
