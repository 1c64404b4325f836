"""metric/* and promql/counter-without-total: does every metric a query reads exist in the
declared engine version, under the name the query uses?"""

from __future__ import annotations

from collections.abc import Iterator

import promql_parser as pp

from slo.lint import promql
from slo.lint.context import Context, Hit, QueryInfo
from slo.lint.metricsdb import Status

_STATUS_CHECK = {
    Status.REMOVED: "metric/removed",
    Status.NOT_YET: "metric/version-mismatch",
    Status.UNKNOWN: "metric/unknown",
}


def check_metrics(query: QueryInfo, expr: pp.Expr, ctx: Context) -> Iterator[Hit]:
    seen: set[str] = set()
    families: set[str] = set()
    for vs, _ in promql.selectors(expr):
        name = promql.selector_name(vs)
        if name is None or name in seen:
            continue
        seen.add(name)
        res = ctx.db.resolve(name, ctx.recorded)
        if res.family:
            if res.family in families:
                continue  # one finding per histogram, not one per _bucket/_sum/_count
            families.add(res.family)
        if res.status is Status.NEEDS_TOTAL:
            yield Hit(
                "promql/counter-without-total", name,
                f"`{name}` is a counter exposed as `{res.detail}`; `{name}` has no series, so this query "
                f"returns nothing: use `{res.detail}`",
            )
        elif res.status in _STATUS_CHECK:
            yield Hit(_STATUS_CHECK[res.status], name, res.detail)
