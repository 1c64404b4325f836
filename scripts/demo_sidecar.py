"""The main job until `llmslo demo` lands (issue 8): a real vLLM, the vLLM sidecar in front of it,
a burst of streamed requests, and the canonical SLIs the sidecar serves, printed side by side with
what the client measured.

Run through `scripts/demo` (it installs everything first). Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.real_vllm import start_vllm, stream_completion

from exporters.pipeline import VLLM
from exporters.server import make_server, serve_in_thread
from exporters.sidecar import Sidecar, scrape_collector
from exporters.upstream import Upstream


def main() -> int:
    log = Path(tempfile.mkdtemp(prefix="llmslo-demo-")) / "vllm.log"
    print(f"starting a real vLLM 0.32 (CPU, tiny dummy model; log: {log}) ...", flush=True)
    with start_vllm(log_path=log) as vllm:
        upstream = Upstream(vllm.metrics_url)
        sidecar = Sidecar("vllm", scrape_collector(VLLM, upstream.fetch, extra_labels=(("pod", "demo-0"),)),
                          target=vllm.metrics_url)
        server = make_server("127.0.0.1", 0, sidecar.render)
        serve_in_thread(server)
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        print(f"vLLM at {vllm.base_url}; llmslo sidecar serving canonical SLIs at {url}\n", flush=True)
        lengths = [4, 8, 16, 32, 8, 24, 12, 40]
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda n: stream_completion(vllm, "tell me a story", n), lengths))
        took = time.monotonic() - t0
        client_ttft = sorted(r.arrival_s[0] for r in results)
        tokens = sum(r.completion_tokens for r in results)
        print(f"client: {len(results)} streamed requests in {took:.1f} s, {tokens} tokens received, "
              f"TTFT median {client_ttft[len(client_ttft) // 2]:.3f} s\n")
        time.sleep(1.0)
        text = httpx.get(url, timeout=10).text
        print("canonical SLIs from the sidecar (excerpt):")
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name in (
                    "gen_ai_server_time_to_first_token_seconds_count",
                    "gen_ai_server_time_to_first_token_seconds_sum",
                    "llmslo_engine_output_tokens_total",
                    "llmslo_engine_input_tokens_total",
                    "llmslo_engine_requests_total",
                    "llmslo_engine_kv_cache_usage_ratio",
                    "llmslo_source_schema_info",
                    "llmslo_exporter_target_up",
                ) and (s.value or "info" in s.name):
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k not in ("pod",))
                    print(f"  {s.name}{{{labels}}} {s.value:g}")
        print(f"\nfull output: curl {url}   (Ctrl-C to stop; stopping in 5 s)")
        time.sleep(5)
        server.shutdown()
        upstream.close()
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; vLLM and the sidecar were stopped")
        raise SystemExit(130) from None
