"""Tenants: traffic, client-side TTFT and errors for the top-k tenants plus `other`.

Tenant labels exist only on the llmslo proxy's series (the engine never sees a tenant). The proxy
already bounds them (an allowlist, folded into `other`); the dashboard shows the `$topk` busiest and
sums the rest, the proxy's own `other` included, into one `other` series.
"""

from __future__ import annotations

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

UID = "llmslo-tenants"
TENANT = ("tenant",)
K = "$topk"
NAMED = ('tenant!="other"',)
FAILED = ('outcome=~"engine_error|midstream_failure"',)
F = q.PROXY_FILTERS


def top_tenants() -> str:
    """The `$topk` busiest named tenants by requests/s (1 per tenant)."""
    return f"topk({K}, {q.sum_rate('proxy_requests', TENANT, filters=F, extra=NAMED)})"


def additive(key: str) -> str:
    """A per-second rate per tenant for the top-k, plus `other`."""
    return q.topk_or_other(K, q.sum_rate(key, TENANT, filters=F), q.sum_rate(key, TENANT, filters=F, extra=NAMED))


def ttft(pct: float) -> tuple[str, str]:
    buckets = q.sum_rate("proxy_ttft", ("le", "tenant"), "_bucket", filters=F)
    top = f"histogram_quantile({pct:g}, {buckets} and on (tenant) {top_tenants()}) >= 0"
    rest = f"histogram_quantile({pct:g}, sum by (le) ({buckets} unless on (tenant) {top_tenants()})) >= 0"
    return top, f'label_replace({rest}, "tenant", "other", "", "")'


def error_ratio() -> tuple[str, str]:
    total = q.sum_rate("proxy_requests", TENANT, filters=F)
    failed = q.or_zero(q.sum_rate("proxy_requests", TENANT, filters=F, extra=FAILED), total)
    top = f"({q.divide(failed, total)}) and on (tenant) {top_tenants()}"
    rest = q.divide(f"sum({failed} unless on (tenant) {top_tenants()})",
                    f"sum({total} unless on (tenant) {top_tenants()})")
    return top, f'label_replace({rest}, "tenant", "other", "", "")'


def _doc(key: str, how: str) -> str:
    return c.describe(get(key).definition, how + " Top $topk tenants by requests/s, the rest summed as `other`. "
                                                  "Needs the llmslo proxy (tenants are labelled there).")


def _section() -> Section:
    ttft_top, ttft_other = ttft(0.9)
    err_top, err_other = error_ratio()
    return Section("Tenants (top $topk + other)", (
        p.timeseries("Requests/s by tenant", _doc("proxy_requests", "Requests per second through the proxy."),
                     [PromTarget(additive("proxy_requests"), "{{tenant}}")], unit=c.REQ_PER_S, stacked=True,
                     no_value=c.NO_TRAFFIC, width=12),
        p.timeseries("Output tokens/s by tenant", _doc("proxy_output_tokens", "Output tokens per second."),
                     [PromTarget(additive("proxy_output_tokens"), "{{tenant}}")], unit=c.TOKENS_PER_S,
                     stacked=True, no_value=c.NO_TRAFFIC, width=12),
        p.timeseries("TTFT p90 by tenant (client)", _doc("proxy_ttft", "90th percentile per tenant, from bucket "
                                                                       "rates summed per tenant; `other` from the "
                                                                       "summed buckets of every other tenant."),
                     [PromTarget(ttft_top, "{{tenant}}"), PromTarget(ttft_other, "{{tenant}}")],
                     unit=c.SECONDS, no_value=c.NO_TRAFFIC, width=12),
        p.timeseries("Error ratio by tenant", _doc("proxy_requests", "Share of requests that failed on the server "
                                                                     "side (engine_error, midstream_failure)."),
                     [PromTarget(err_top, "{{tenant}}"), PromTarget(err_other, "{{tenant}}")],
                     unit=c.RATIO, min_=0, steps=(Step(0.001, "orange"), Step(0.01, "red")),
                     no_value=c.NO_TRAFFIC, mappings=p.nan_as(c.NO_TRAFFIC), width=12),
        p.table("Busiest tenants now", _doc("proxy_requests", "Requests/s, output tokens/s and TTFT p90 now."),
                [PromTarget(additive("proxy_requests"), "requests/s", instant=True, table=True),
                 PromTarget(additive("proxy_output_tokens"), "output tokens/s", instant=True, table=True),
                 PromTarget(ttft_top, "TTFT p90", instant=True, table=True)],
                unit=c.COUNT, no_value=c.NO_TRAFFIC, width=24),
    ))


def build() -> dict[str, Any]:
    return dashboard(
        uid=UID, title="LLM tenants",
        description="Per-tenant traffic, client-side TTFT and errors from the llmslo proxy: the busiest tenants "
                    "and the rest as `other`.",
        tags=(*c.TAGS, "tenants"),
        variables=[*c.proxy_variables(), var.custom("topk", "Top tenants", ("5", "10", "20"), "10")],
        sections=(_section(),), links=c.links(),
    )
