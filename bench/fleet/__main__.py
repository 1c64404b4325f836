"""`python -m bench.fleet {serve,dump,bench}`: the simulator's command line (run from the repo root)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from pathlib import Path

from bench.fleet.fleet import Fleet
from bench.fleet.spans import export_request
from bench.fleet.workload import FleetSpec


def _spec(args: argparse.Namespace, start: float) -> FleetSpec:
    return FleetSpec(pods=args.pods, seed=args.seed, rate_per_pod=args.rate, start=start)


def serve(args: argparse.Namespace) -> int:
    from bench.fleet.server import FleetServer

    fleet = Fleet(_spec(args, time.time()), keep_finished=args.keep_spans)
    server = FleetServer(fleet, host=args.host, port=args.port).start()
    print(f"fleet of {args.pods} pods on http://{server.address}/pod/<0..{args.pods - 1}>/metrics", flush=True)
    if args.address_file:
        args.address_file.write_text(server.address + "\n")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    return 0


def dump(args: argparse.Namespace) -> int:
    """Write one pod's /metrics and the spans of every pod at a simulated time, for inspection."""
    spec = _spec(args, args.start)
    fleet = Fleet(spec, keep_finished=True)
    if not 0 <= args.pod < spec.pods:
        print(f"error: --pod {args.pod} is outside 0..{spec.pods - 1}", file=sys.stderr)
        return 2
    t = spec.start + args.at
    fleet.advance_all(t)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"pod-{args.pod}.prom").write_text(fleet.metrics(args.pod))
    request = export_request([(pod, fleet.drain(i)) for i, pod in enumerate(fleet.pods)])
    (args.out / "spans.bin").write_bytes(request.SerializeToString())
    print(f"wrote {args.out}/pod-{args.pod}.prom and {args.out}/spans.bin")
    return 0


def bench(args: argparse.Namespace) -> int:
    from bench.fleet.bench import run

    try:
        counts = [int(p) for p in args.pods_list.split(",")]
    except ValueError:
        print(f"error: --pods {args.pods_list!r} must be comma-separated integers", file=sys.stderr)
        return 2
    if args.servers < 1 or any(c < 1 for c in counts):
        print("error: --pods and --servers must be >= 1", file=sys.stderr)
        return 2
    return run(counts, seed=args.seed, rate=args.rate, rounds=args.rounds, interval=args.interval,
               seconds=args.seconds, scrape_interval=args.scrape_interval, eval_interval=args.eval_interval,
               rules=args.rules, skip_prometheus=args.no_prometheus, json_out=args.json, servers=args.servers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, pods: bool = True) -> None:
        if pods:
            p.add_argument("--pods", type=int, default=100)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--rate", type=float, default=1.0, help="mean requests/s per pod (default 1)")

    p = sub.add_parser("serve", help="serve /pod/<i>/metrics and /pod/<i>/sidecar for a fleet")
    common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--address-file", type=Path)
    p.add_argument("--keep-spans", action="store_true", help="keep finished requests for GET /spans")
    p.set_defaults(handler=serve)

    p = sub.add_parser("dump", help="write one pod's /metrics and the fleet's spans at a simulated time")
    common(p)
    p.add_argument("--pod", type=int, default=0)
    p.add_argument("--start", type=float, default=1.8e9, help="simulated epoch of the fleet start")
    p.add_argument("--at", type=float, default=300.0, help="seconds after the start")
    p.add_argument("--out", type=Path, default=Path("fleet-dump"))
    p.set_defaults(handler=dump)

    p = sub.add_parser("bench", help="measure sidecar, Prometheus and span cost at several pod counts")
    common(p, pods=False)
    p.add_argument("--pods", dest="pods_list", default="100,1000")
    p.add_argument("--rounds", type=int, default=2, help="sidecar scrape rounds measured per pod count")
    p.add_argument("--interval", type=float, default=15.0, help="simulated scrape interval, seconds")
    p.add_argument("--seconds", type=float, default=60.0, help="Prometheus measurement window per pod count")
    p.add_argument("--scrape-interval", type=int, default=15)
    p.add_argument("--eval-interval", type=int, default=15)
    p.add_argument("--rules", type=Path, help="rule file to load (e.g. `llmslo rules generate` output); "
                   "default: bench/fleet/rules.py's representative set")
    p.add_argument("--servers", type=int, default=2, help="fleet-server processes sharing the pods (default 2)")
    p.add_argument("--no-prometheus", action="store_true")
    p.add_argument("--json", type=Path)
    p.set_defaults(handler=bench)

    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
