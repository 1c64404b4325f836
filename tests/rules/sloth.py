"""Sloth's output for our TTFT SLO, derived from Sloth's own generated example.

Sloth is a Go binary we cannot run here, so we take its committed output for the getting-started
spec (reference anchors, Sloth v0.16 `examples/_gen/getting-started.yml`) and substitute only the
SLI queries, exactly as Sloth templates them: `(<error_query>)` / `(<total_query>)` per window.
The result is what `sloth generate` emits for this Sloth spec:

    version: prometheus/v1
    service: myservice
    slos:
      - name: requests-availability
        objective: 99.9
        sli:
          events:
            error_query: sum(rate(<ttft>_count[{{.window}}])) - sum(rate(<ttft>_bucket{le="0.5"}[{{.window}}]))
            total_query: sum(rate(<ttft>_count[{{.window}}]))
        alerting: {name: MyServiceHighErrorRate, page_alert: {...}, ticket_alert: {...}}
"""

from __future__ import annotations

import re
from pathlib import Path

from support.captures import SHARED_FIXTURES

REPO = Path(__file__).resolve().parents[2]
SLOTH_ANCHOR = SHARED_FIXTURES.parent / "reference" / "anchors" / "sloth" / "examples" / "_gen" / "getting-started.yml"
SLOTH_ALERT = "MyServiceHighErrorRate"
TTFT = "gen_ai_server_time_to_first_token_seconds"

_ERROR = re.compile(
    r'sum\(rate\(http_request_duration_seconds_count\{job="myservice",code=~"\(5\.\.\|429\)"\}\[(\w+)\]\)\)')
_TOTAL = re.compile(r'sum\(rate\(http_request_duration_seconds_count\{job="myservice"\}\[(\w+)\]\)\)')


def sloth_ttft_rules(threshold: str = "0.5") -> str:
    text = SLOTH_ANCHOR.read_text()
    text, n_err = _ERROR.subn(
        lambda m: f'sum(rate({TTFT}_count[{m[1]}])) - sum(rate({TTFT}_bucket{{le="{threshold}"}}[{m[1]}]))', text)
    text, n_tot = _TOTAL.subn(lambda m: f"sum(rate({TTFT}_count[{m[1]}]))", text)
    assert n_err == n_tot == 7, (n_err, n_tot)  # one per raw SLI window: 5m 30m 1h 2h 6h 1d 3d
    return text
