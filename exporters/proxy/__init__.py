"""`exporters.proxy`: a streaming reverse proxy in front of vLLM's OpenAI API that measures what a
client sees (TTFT, inter-chunk gaps, TPOT, e2e, exact token counts, outcomes) and serves them as
the catalog's proxy SLIs.

Modules, from the pure core outwards: `sse` (event scanner), `openai` (what a request asks and a
chunk carries; the usage-chunk injection), `tenant` (bounded tenant label), `recorder` (histograms,
counters, exemplars), `exposition` (OpenMetrics text), `measure` (one exchange's clock),
`upstream` (raw asyncio HTTP/1.1 client to the one configured upstream), `app` (the ASGI app),
`protocol` (uvicorn protocol with head limits and a slowloris timeout), `server` (wiring).
"""

from __future__ import annotations

from exporters.proxy.config import ProxyConfig

__all__ = ["ProxyConfig"]
