"""The vLLM sidecar over real HTTP, in front of a fake upstream that replays real captures and
misbehaves on demand (hangs, refuses, errors, cuts transfers short, sends garbage, restarts).

Everything is real except the engine: the sidecar's own HTTP server, its keep-alive client,
the sockets and timeouts. Answers are read with `prometheus_client.parser`, an independent
parser, so a formatting bug in our writer cannot hide behind our own parser.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.captures import VLLM_032, VLLM_V0, read

from exporters.pipeline import VLLM, process
from exporters.server import make_server
from exporters.sidecar import ERROR_KINDS, Sidecar, scrape_collector
from exporters.upstream import Upstream
from integration.upstream_server import HANDLER_THREAD_NAME, FakeUpstream, fake_upstream, unused_port
from slo.catalog import BY_KEY
from slo.metrics.model import MetricType

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "canonical"
POD = (("namespace", "llm"), ("pod", "vllm-0"))  # the labels the golden files were made with

AFTER_21 = VLLM_032 / "metrics-after-21-requests.prom"
IDLE_AFTER_1 = VLLM_032 / "metrics-idle-after-1-request.prom"  # same process as AFTER_21
AFTER_LOAD = VLLM_032 / "metrics-after-load.prom"  # a second process: another start time

SLI_PREFIXES = ("gen_ai_", "llmslo_engine_")

Key = tuple[str, tuple[tuple[str, str], ...]]


def capture(path: Path) -> str:
    text = read(path)
    # The V0 file was copied without its final newline; every HTTP exposition ends with one,
    # and a live sidecar rightly treats a missing one as a truncated transfer.
    return text if text.endswith("\n") else text + "\n"


# -- reading answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    seconds: float
    series: dict[Key, float]

    def get(self, name: str, **labels: str) -> list[float]:
        return [
            v
            for (n, ls), v in self.series.items()
            if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
        ]

    def one(self, name: str, **labels: str) -> float:
        found = self.get(name, **labels)
        assert len(found) == 1, f"expected one {name}{labels}, found {len(found)}"
        return found[0]

    @property
    def up(self) -> float:
        return self.one("llmslo_exporter_target_up")

    def errors(self, kind: str) -> float:
        return self.one("llmslo_exporter_scrape_errors_total", kind=kind)

    @property
    def resets(self) -> float:
        return self.one("llmslo_exporter_counter_resets_total")

    def sli(self) -> dict[Key, float]:
        return {k: v for k, v in self.series.items() if k[0].startswith(SLI_PREFIXES)}

    def mapping(self) -> dict[str, dict[str, str]]:
        """SLI key -> labels of its llmslo_sli_mapping_info series."""
        out: dict[str, dict[str, str]] = {}
        for (name, labels), _ in self.series.items():
            if name == "llmslo_sli_mapping_info":
                d = dict(labels)
                out[d["sli"]] = d
        return out


def parse_answer(status: int, text: str, seconds: float) -> Answer:
    series: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in series, f"duplicate series in the answer: {key}"
            series[key] = s.value
    return Answer(status, text, seconds, series)


def expected_sli(text: str) -> dict[Key, float]:
    """What the pipeline maps one capture to, keyed like `Answer.series`."""
    result = process(text, VLLM, extra_labels=POD)
    return {(s.name, s.labels): s.value for f in result.families for s in f.samples}


def monotonic_families(text: str) -> set[str]:
    """Canonical sample names of counters and histograms (what must never go down)."""
    out: set[str] = set()
    for f in process(text, VLLM, extra_labels=POD).families:
        if f.type in (MetricType.COUNTER, MetricType.HISTOGRAM):
            out.update(s.name for s in f.samples)
    return out


def sli_lines(text: str) -> list[str]:
    """The lines of an exposition that belong to SLI families (samples, HELP and TYPE)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(SLI_PREFIXES)
        or line.startswith(tuple(f"# {m} {p}" for m in ("HELP", "TYPE") for p in SLI_PREFIXES))
    ]


def without_start_time(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "process_start_time_seconds" not in line)


# -- the sidecar under test -----------------------------------------------------------------------


@dataclass
class Harness:
    url: str
    sidecar: Sidecar
    client: httpx.Client

    def scrape(self) -> Answer:
        start = time.perf_counter()
        response = self.client.get(self.url)
        seconds = time.perf_counter() - start
        return parse_answer(response.status_code, response.text, seconds)


@contextmanager
def sidecar_for(
    target: str, client: httpx.Client, *, timeout: float = 10.0, max_bytes: int = 16 * 1024 * 1024
) -> Iterator[Harness]:
    upstream = Upstream(target, timeout=timeout, max_bytes=max_bytes)
    sidecar = Sidecar(
        "vllm",
        scrape_collector(VLLM, upstream.fetch, extra_labels=POD),
        target=target,
        min_interval=0,
    )
    server = make_server("127.0.0.1", 0, sidecar.render)
    # What `serve_in_thread` does, with a short poll interval: its default of 0.5 s makes every
    # `shutdown()` wait up to half a second, which would be most of this file's run time.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield Harness(f"http://127.0.0.1:{server.server_address[1]}/metrics", sidecar, client)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        upstream.close()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """The scraper (Prometheus's role); one for the module, as building one costs ~50 ms."""
    with httpx.Client(timeout=10.0) as c:
        yield c


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as up:
        yield up


# -- healthy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.name) for p in (AFTER_21, IDLE_AFTER_1, AFTER_LOAD)],
)
def test_healthy_v1_answer_matches_golden(upstream: FakeUpstream, client: httpx.Client, path: Path) -> None:
    text = capture(path)
    upstream.serve(text)
    golden = (GOLDEN / f"{VLLM_032.name}__{path.name}").read_text(encoding="utf-8")
    with sidecar_for(upstream.url, client) as side:
        answer = side.scrape()
    assert answer.status == 200
    assert sli_lines(answer.text) == sli_lines(golden)
    assert len(sli_lines(golden)) > 100
    assert answer.up == 1
    assert all(answer.errors(k) == 0 for k in ERROR_KINDS)
    schema = answer.one("llmslo_source_schema_info", generation="v1", versions=">=0.32.0", source="vllm")
    assert schema == 1
    mapping = answer.mapping()
    assert mapping, "no llmslo_sli_mapping_info"
    assert {m["fidelity"] for m in mapping.values()} == {"exact"}, mapping
    assert mapping["tpot"]["source_metric"] == "vllm:request_time_per_output_token_seconds"
    # Only SLI families, the info metrics and the exporter's own metrics: nothing leaks through.
    assert {n for n, _ in answer.series} - {n for n, _ in answer.sli()} <= {
        "llmslo_sli_mapping_info",
        "llmslo_source_schema_info",
        "llmslo_exporter_target_up",
        "llmslo_exporter_scrape_duration_seconds",
        "llmslo_exporter_scrapes_total",
        "llmslo_exporter_counter_resets_total",
        "llmslo_exporter_scrape_errors_total",
    }


def test_v0_capture_reports_schema_and_unavailable_tpot(upstream: FakeUpstream, client: httpx.Client) -> None:
    text = capture(VLLM_V0)
    upstream.serve(text)
    with sidecar_for(upstream.url, client) as side:
        answer = side.scrape()
    assert answer.status == 200
    assert answer.up == 1
    assert all(answer.errors(k) == 0 for k in ERROR_KINDS)
    assert answer.one("llmslo_source_schema_info", generation="v0") == 1
    tpot = answer.mapping()["tpot"]
    assert tpot["fidelity"] == "unavailable"
    assert tpot["source_metric"] == "vllm:time_per_output_token_seconds"
    assert not answer.get("gen_ai_server_time_per_output_token_seconds_count")
    assert not [k for k in answer.series if k[0].startswith("gen_ai_server_time_per_output_token_seconds")]
    # In V0 that histogram is the inter-token latency, and is mapped as such.
    assert answer.mapping()["itl"]["source_metric"] == "vllm:time_per_output_token_seconds"
    golden = (GOLDEN / VLLM_V0.name).read_text(encoding="utf-8")
    assert sli_lines(answer.text) == sli_lines(golden)


# -- restarts --------------------------------------------------------------------------------------


def assert_cumulative(answer: Answer) -> None:
    """Every histogram child: buckets non-decreasing in `le`, +Inf bucket equal to _count."""
    children: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for (name, labels), value in answer.sli().items():
        if name.endswith("_bucket"):
            base = name.removesuffix("_bucket")
            child = tuple(p for p in labels if p[0] != "le")
            children.setdefault((base, child), []).append((float(dict(labels)["le"]), value))
    assert children
    for (base, child), buckets in children.items():
        buckets.sort()
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{base}{dict(child)} buckets not cumulative: {buckets}"
        assert math.isinf(buckets[-1][0])
        assert answer.series[(f"{base}_count", child)] == buckets[-1][1]


@pytest.mark.parametrize(
    ("first", "second", "strip_epoch"),
    [
        # Another process, and every child's counts dropped: the restart shows either way.
        pytest.param(AFTER_21, AFTER_LOAD, False, id="new-start-time-values-down"),
        # Another process whose token counters already climbed past the old ones: only the start
        # time reveals the restart (Prometheus alone would lose the first process's counts).
        pytest.param(IDLE_AFTER_1, AFTER_LOAD, False, id="new-start-time-values-up"),
        # The same process read later then earlier, with no start time exposed: only the drop shows.
        pytest.param(AFTER_21, IDLE_AFTER_1, True, id="values-down-no-start-time"),
    ],
)
def test_restart_keeps_counters_monotonic(
    upstream: FakeUpstream, client: httpx.Client, first: Path, second: Path, strip_epoch: bool
) -> None:
    before, after = capture(first), capture(second)
    if strip_epoch:
        before, after = without_start_time(before), without_start_time(after)
        assert "process_start_time_seconds" not in before + after
    else:
        assert process(before, VLLM).epoch != process(after, VLLM).epoch
    old, new = expected_sli(before), expected_sli(after)
    monotonic = monotonic_families(after)
    assert monotonic

    upstream.serve(before)
    with sidecar_for(upstream.url, client) as side:
        first_answer = side.scrape()
        assert first_answer.sli() == old
        assert first_answer.resets == 0
        upstream.serve(after)
        answer = side.scrape()

    assert answer.status == 200
    assert answer.up == 1
    assert answer.resets > 0
    got = answer.sli()
    assert set(got) == set(new)
    checked = 0
    for key, value in new.items():
        if key[0] in monotonic:
            assert key in old, f"{key} missing from the first capture: the sum check would be vacuous"
            assert got[key] == value + old[key], key
            assert got[key] >= first_answer.sli()[key], key
            checked += 1
        else:  # gauges are what the engine says now
            assert got[key] == value, key
    assert checked > 100
    # Not vacuous: the captures really differ the way the case says.
    went_down = [k for k in new if k[0] in monotonic and new[k] < old[k]]
    grew = [k for k in new if k[0] in monotonic and new[k] > old[k] > 0]
    assert went_down if strip_epoch or first == AFTER_21 else grew
    assert_cumulative(answer)
    assert_cumulative(first_answer)


# -- the upstream failing --------------------------------------------------------------------------


def only_exporter_metrics(answer: Answer) -> bool:
    return all(name.startswith("llmslo_exporter_") for name, _ in answer.series)


def test_hanging_upstream_times_out_then_recovers(upstream: FakeUpstream, client: httpx.Client) -> None:
    text = capture(AFTER_21)
    upstream.serve(text)
    # A 2 s fetch timeout against a 10 s hang: the answer in under 6 s can only come from the timeout,
    # and the healthy scrapes around it keep room for a machine that stalls for a second.
    with sidecar_for(upstream.url, client, timeout=2.0) as side:
        assert side.scrape().up == 1
        upstream.hang(10.0)
        answer = side.scrape()
        assert answer.status == 200
        assert answer.seconds < 6.0, f"the sidecar took {answer.seconds:.2f} s behind a hanging target"
        assert answer.up == 0
        assert answer.errors("timeout") >= 1
        assert not [k for k in answer.series if k[0].startswith("gen_ai_")]
        assert only_exporter_metrics(answer)

        upstream.serve(text)
        recovered = side.scrape()
    assert recovered.status == 200
    assert recovered.up == 1
    assert recovered.sli() == expected_sli(text)
    assert recovered.errors("timeout") == answer.errors("timeout")


def test_unreachable_target_is_down_not_an_error_page(client: httpx.Client) -> None:
    with unused_port() as port, sidecar_for(f"http://127.0.0.1:{port}/metrics", client, timeout=0.5) as side:
        answer = side.scrape()
    assert answer.status == 200
    assert answer.up == 0
    assert answer.errors("connect") == 1
    assert only_exporter_metrics(answer)
    assert answer.seconds < 2.0


SMALL_LIMIT = 128 * 1024  # above every capture (about 50 KB), so recovery fits


@dataclass(frozen=True)
class Failure:
    arrange: Callable[[FakeUpstream, str], None]
    kind: str
    max_bytes: int = 16 * 1024 * 1024


FAILURES = [
    pytest.param(Failure(lambda up, _: up.status(500), "http_status"), id="http-500"),
    pytest.param(Failure(lambda up, _: up.status(503), "http_status"), id="http-503"),
    pytest.param(Failure(lambda up, _: up.status(404), "http_status"), id="http-404"),
    pytest.param(Failure(lambda up, _: up.status(302), "http_status"), id="http-302-not-followed"),
    # Cut in the middle of a line, mid-number: a parser fed this would read a wrong value.
    pytest.param(Failure(lambda up, t: up.truncate(t), "protocol"), id="truncated-half"),
    pytest.param(
        Failure(lambda up, t: up.truncate(t, send=t.index("vllm:generation_tokens_total{") + 60), "protocol"),
        id="truncated-mid-sample",
    ),
    pytest.param(Failure(lambda up, t: up.truncate(t, send=0), "protocol"), id="truncated-headers-only"),
    pytest.param(Failure(lambda up, _: up.garbage(), "protocol"), id="not-http"),
    pytest.param(
        Failure(lambda up, _: up.oversized(4 * SMALL_LIMIT), "too_large", SMALL_LIMIT), id="too-large-declared"
    ),
    pytest.param(
        Failure(lambda up, _: up.oversized(4 * SMALL_LIMIT, chunked=True), "too_large", SMALL_LIMIT),
        id="too-large-chunked",
    ),
    pytest.param(Failure(lambda up, t: up.invalid_utf8(t), "decode"), id="invalid-utf8"),
    pytest.param(Failure(lambda up, t: up.invalid_utf8(t, chunked=True), "decode"), id="invalid-utf8-chunked"),
]


@pytest.mark.parametrize("failure", FAILURES)
def test_upstream_failure_is_counted_by_kind_and_recovers(
    upstream: FakeUpstream, client: httpx.Client, failure: Failure
) -> None:
    text = capture(AFTER_21)
    upstream.serve(text)
    with sidecar_for(upstream.url, client, timeout=2.0, max_bytes=failure.max_bytes) as side:
        healthy = side.scrape()  # also leaves a kept-alive connection for the failure to meet
        failure.arrange(upstream, text)
        answer = side.scrape()
        upstream.serve(text)
        recovered = side.scrape()
    assert healthy.up == 1
    assert healthy.sli() == expected_sli(text)
    assert answer.status == 200
    assert answer.up == 0
    assert {k: answer.errors(k) for k in ERROR_KINDS} == {k: float(k == failure.kind) for k in ERROR_KINDS}
    # Nothing of a failed body is served, and nothing from before it either: the SLI series go
    # stale in Prometheus instead of repeating old values; no schema guessed from half a scrape.
    assert only_exporter_metrics(answer)
    # The kept-alive connection to a misbehaving target is not reused in a broken state.
    assert recovered.up == 1
    assert recovered.sli() == expected_sli(text)
    assert recovered.errors(failure.kind) == 1
    assert recovered.resets == 0


# -- a complete response with bad lines in it ------------------------------------------------------


def corrupt(text: str) -> tuple[str, set[str]]:
    """The capture with four kinds of damage; returns it and the source families touched."""
    lines = text.splitlines(keepends=True)

    def index(prefix: str) -> int:
        found = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        assert len(found) == 1, (prefix, len(found))
        return found[0]

    # Bad label syntax: the comma between two labels is gone.
    i = index("vllm:prompt_tokens_total{")
    assert '",model_name=' in lines[i]
    lines[i] = lines[i].replace('",model_name=', '" model_name=', 1)
    # Bad value.
    i = index("vllm:generation_tokens_total{")
    head, value = lines[i].rsplit(" ", 1)
    lines[i] = f"{head} 9x{value}"
    # A duplicated series (with another value): the first one is kept.
    i = index("vllm:num_requests_running{")
    head, value = lines[i].rsplit(" ", 1)
    lines.insert(i + 1, f"{head} 12345.0\n")
    # A histogram child without its +Inf bucket.
    i = index('vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf"')
    del lines[i]
    touched = {"vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:e2e_request_latency_seconds"}
    return "".join(lines), touched


def test_malformed_lines_are_counted_and_the_rest_is_served(upstream: FakeUpstream, client: httpx.Client) -> None:
    text = capture(AFTER_21)
    bad, touched = corrupt(text)
    upstream.serve(bad)
    with sidecar_for(upstream.url, client) as side:
        answer = side.scrape()
    assert answer.status == 200
    assert answer.up == 1
    damage = ("invalid_labels", "invalid_value", "duplicate_series", "histogram_inconsistent")
    assert {k: answer.errors(k) for k in ERROR_KINDS} == {k: float(k in damage) for k in ERROR_KINDS}

    good = process(text, VLLM, extra_labels=POD)
    want = expected_sli(text)
    got = answer.sli()
    sources = {n.sli: n.source_metric for n in good.notes}
    untouched = {BY_KEY[sli].prom_name for sli, metric in sources.items() if metric not in touched}
    broken = {BY_KEY[sli].prom_name for sli, metric in sources.items() if metric in touched}
    assert len(broken) == 3
    assert len(untouched) >= 15

    def family(sample_name: str) -> str:
        """The canonical family a sample belongs to (histogram samples carry a suffix)."""
        for suffix in ("_bucket", "_count", "_sum"):
            base = sample_name.removesuffix(suffix)
            if base != sample_name and base in untouched | broken:
                return base
        return sample_name

    checked = 0
    for key, value in want.items():
        if family(key[0]) in untouched:
            assert got.get(key) == value, key
            checked += 1
    assert checked > 100
    # The duplicate did not overwrite the first value.
    assert (
        answer.one("llmslo_engine_requests_running")
        == want[next(k for k in want if k[0] == "llmslo_engine_requests_running")]
    )
    # What was damaged is left out, never served with a wrong value.
    assert not [k for k in got if family(k[0]) == "gen_ai_server_request_duration_seconds"]
    assert not answer.get("llmslo_engine_input_tokens_total")
    assert not answer.get("llmslo_engine_output_tokens_total")


# -- operability -----------------------------------------------------------------------------------


def test_a_failing_target_is_logged_once_per_kind(caplog: pytest.LogCaptureFixture, client: httpx.Client) -> None:
    caplog.set_level(logging.WARNING, logger="llmslo.exporter")
    with unused_port() as port, sidecar_for(f"http://127.0.0.1:{port}/metrics", client, timeout=0.5) as side:
        answers = [side.scrape() for _ in range(3)]
    assert [a.up for a in answers] == [0, 0, 0]
    assert answers[-1].errors("connect") == 3
    warnings = [r for r in caplog.records if r.name == "llmslo.exporter" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "connect" in warnings[0].getMessage()


def sidecar_threads() -> int:
    """Live threads, not counting the fake upstream's handlers (a hanging one is the fake's)."""
    return sum(1 for t in threading.enumerate() if t.name != HANDLER_THREAD_NAME)


def settled(count: Callable[[], int], limit: int, seconds: float = 5.0) -> int:
    """`count()` once it is at most `limit`, or after `seconds`: finished handlers take a moment."""
    deadline = time.monotonic() + seconds
    while (n := count()) > limit and time.monotonic() < deadline:
        time.sleep(0.02)
    return n


def test_no_thread_leak_behind_a_hanging_then_unreachable_target(client: httpx.Client) -> None:
    scrapes, hanging, slack = 200, 6, 3
    # 1 s, not less: a healthy fetch must never time out because the machine stalled for a moment.
    with fake_upstream(capture(AFTER_21)) as up, sidecar_for(up.url, client, timeout=1.0) as side:
        assert side.scrape().up == 1  # warm up: the keep-alive connection and its threads exist
        baseline, baseline_all = sidecar_threads(), threading.active_count()
        up.hang(30.0)
        answers = [side.scrape() for _ in range(hanging)]
        # Each timed-out request still hangs inside the fake; the sidecar keeps nothing for it.
        assert settled(sidecar_threads, baseline + slack) <= baseline + slack, threading.enumerate()
        up.close()  # now nothing listens there
        answers += [side.scrape() for _ in range(scrapes - hanging)]
        assert all(a.status == 200 and a.up == 0 for a in answers)
        last = answers[-1]
        assert last.errors("timeout") == hanging
        assert last.errors("connect") == scrapes - hanging
        assert last.one("llmslo_exporter_scrapes_total") == scrapes + 1
        assert settled(threading.active_count, baseline_all + slack) <= baseline_all + slack, threading.enumerate()
