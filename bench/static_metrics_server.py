"""Serve a vLLM capture at /metrics over HTTP/1.1 keep-alive, like vLLM's uvicorn does.

Run as its own process in benchmarks so its CPU is not counted as the sidecar's.

    python bench/static_metrics_server.py FILE PORT [--mode identical|changing|rotate] [FILE2 FILE3 ...]

Modes (what a benchmark must say it measured):
- `identical`: the same bytes on every request (an idle engine; the sidecar may skip work).
- `changing`: the capture's values move on every request the way a busy engine's do: every
  counter grows, every histogram child gains observations consistently (buckets stay cumulative,
  `_count` equals `+Inf`, `_sum` grows), gauges vary. Series and labels stay as captured.
- `rotate`: the given captures in turn (different series sets, counters going down: restarts).
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slo.metrics.write import format_float


class ChangingBody:
    """The capture as a template: fixed text between value slots, and per slot a base value and a
    per-request increment chosen by what the series is (counter, bucket, count, sum, gauge)."""

    def __init__(self, text: str) -> None:
        types: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) == 4:
                    types[parts[2]] = parts[3]
        self._pieces: list[str] = []  # text before slot i (its line head, and the lines before)
        self._base: list[float] = []
        self._step: list[float] = []
        pending: list[str] = []
        # Each histogram child gains one observation per request in bucket `le >= cut`, with the
        # cut a third of the way up its buckets: lower buckets keep still, as real ones often do.
        children: dict[str, list[int]] = {}
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if line.startswith("#") or not head:
                pending.append(line + "\n")
                continue
            name = head.split("{", 1)[0]
            self._pieces.append("".join(pending) + head + " ")
            pending = []
            self._base.append(float(value))
            step = 0.0
            for suffix in ("_bucket", "_count", "_sum"):
                base = name[: -len(suffix)] if name.endswith(suffix) else ""
                if base and types.get(base) == "histogram":
                    if suffix == "_bucket":
                        child = head.split("{", 1)[1]
                        child = ",".join(p for p in child.split(",") if not p.startswith("le="))
                        children.setdefault(child + base, []).append(len(self._base) - 1)
                        step = -1.0  # filled in below
                    else:
                        step = 1.0 if suffix == "_count" else 0.37
                    break
            else:
                kind = types.get(name) or types.get(name.removesuffix("_total"))
                if kind == "counter":
                    step = 3.0
                elif kind == "gauge" and not name.endswith("_created") and name != "process_start_time_seconds":
                    step = float("nan")  # gauges: vary around the captured value
            self._step.append(step)
        self._tail = "".join(pending)
        for slots in children.values():
            cut = len(slots) // 3
            for rank, slot in enumerate(slots):
                self._step[slot] = 1.0 if rank >= cut else 0.0

    def body(self, n: int) -> bytes:
        out: list[str] = []
        for piece, base, step in zip(self._pieces, self._base, self._step, strict=True):
            value = base + (n % 5) if step != step else base + n * step
            out.append(piece)
            out.append(format_float(value) + "\n")
        out.append(self._tail)
        return "".join(out).encode("utf-8")


def main() -> None:
    args = sys.argv[1:]
    mode = "identical"
    if "--mode" in args:
        at = args.index("--mode")
        mode = args[at + 1]
        del args[at : at + 2]
    files, port = [args[0], *args[2:]], int(args[1])
    texts = [Path(f).read_text(encoding="utf-8") for f in files]
    changing = ChangingBody(texts[0])
    count = [0]

    def next_body() -> bytes:
        count[0] += 1
        if mode == "changing":
            return changing.body(count[0])
        if mode == "rotate":
            return texts[count[0] % len(texts)].encode("utf-8")
        return texts[0].encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = next_body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
