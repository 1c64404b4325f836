"""The ASGI app: pass every request to the one configured upstream, bytes unchanged, and measure it.

One task per request does the work. Two things may interrupt it, both by cancelling that task with
a reason: a listener task that sees the client disconnect (the upstream connection is then closed,
which vLLM counts as an abort), and the watchdog, which enforces the body, upstream and client-write
timeouts without a timer per chunk. Measurement is fail-open: any error in it is counted
(`llmslo_proxy_recording_errors_total`) and that request goes on unmeasured.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from exporters.proxy.config import ProxyConfig
from exporters.proxy.errors import StreamAborted, send_error
from exporters.proxy.measure import Exchange, ModelNames, Outcome
from exporters.proxy.openai import ROUTES, Prepared, inspect_body, prepare
from exporters.proxy.recorder import Recorder
from exporters.proxy.relay import Fingerprint, SseFilter
from exporters.proxy.sse import SseScanner
from exporters.proxy.tenant import TenantLabeler
from exporters.proxy.upstream import Connection, ResponseHead, UpstreamError, UpstreamPool

logger = logging.getLogger("llmslo.proxy")

_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length", b"expect",
})  # fmt: skip
_RESPONSE_DROP = _HOP_BY_HOP - {b"content-length"}
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_VALID_STATUS = frozenset(s.value for s in http.HTTPStatus)
_TAIL_BYTES = 64 * 1024
WATCHDOG_INTERVAL_S = 0.25

# Phases of a request, for the watchdog.
BODY, HEAD, STREAM, WRITE, DONE = range(5)


class _Flight:
    """One request in progress, as the watchdog and the disconnect listener see it."""

    __slots__ = ("phase", "reason", "since", "task")

    def __init__(self, task: asyncio.Task[Any], now: float) -> None:
        self.task = task
        self.phase = BODY
        self.since = now
        self.reason = ""


class ProxyApp:
    def __init__(self, config: ProxyConfig, recorder: Recorder | None = None) -> None:
        self.config = config
        self.recorder = recorder if recorder is not None else Recorder(namespace=config.namespace, pod=config.pod)
        self.tenants = TenantLabeler(allowlist=config.tenant_allowlist, top_k=config.tenant_top_k)
        self.models = ModelNames()
        self.fingerprint = Fingerprint()
        self.pool = UpstreamPool(config.upstream_host, config.upstream_port,
                                 connect_timeout=config.connect_timeout_s, max_idle=config.max_idle_connections)
        self._flights: set[_Flight] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._tenant_header = config.tenant_header.lower().encode("latin-1")
        self._limits = {
            BODY: config.body_timeout_s,
            HEAD: config.upstream_timeout_s,
            STREAM: config.upstream_idle_timeout_s,
            WRITE: config.client_write_timeout_s,
        }
        self._reasons = {BODY: "body_timeout", HEAD: "upstream_timeout", STREAM: "upstream_idle_timeout",
                         WRITE: "client_write_timeout"}

    # --- lifecycle -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        self.pool.close()

    async def _watch(self) -> None:
        limits = self._limits
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            now = time.monotonic()
            for flight in list(self._flights):
                limit = limits.get(flight.phase)
                if limit is not None and now - flight.since > limit and not flight.reason:
                    flight.reason = self._reasons[flight.phase]
                    flight.task.cancel()

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    # --- one request ---------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.monotonic()
        task = asyncio.current_task()
        assert task is not None
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        flight = _Flight(task, start)
        self._flights.add(flight)
        self.recorder.in_flight += 1
        state = _State()
        try:
            try:
                await self._serve(scope, receive, send, flight, state, start)
            except asyncio.CancelledError:
                if not flight.reason:
                    raise  # the server is shutting down
                task.uncancel()
                await self._interrupted(flight, state, send)
        finally:
            flight.phase = DONE
            self._flights.discard(flight)
            self.recorder.in_flight -= 1
            if state.listener is not None and not state.listener.done():
                state.listener.cancel()
            if state.conn is not None:
                if flight.reason:
                    state.conn.close()
                else:
                    self.pool.release(state.conn)  # closes it unless the answer was read to its end
            self._finish(state, flight)

    def _finish(self, state: _State, flight: _Flight) -> None:
        ex = state.exchange
        if ex is None or state.outcome is None:
            return
        try:
            ex.finish(state.outcome, time.monotonic())
        except Exception:
            self._recording_failed()

    def _recording_failed(self) -> None:
        """Count it; log the first failure with its traceback and then every 1000th, not every request."""
        self.recorder.recording_errors += 1
        if self.recorder.recording_errors % 1000 == 1:
            logger.exception("recording a request's metrics failed (%d so far); the request was proxied unmeasured",
                             self.recorder.recording_errors)

    async def _interrupted(self, flight: _Flight, state: _State, send: Send) -> None:
        reason = flight.reason
        if state.conn is not None:
            state.conn.close()
        if reason == "client_cancel":
            state.outcome = Outcome.CLIENT_CANCEL
            return
        if reason == "client_write_timeout":
            state.outcome = Outcome.CLIENT_CANCEL
            logger.warning("client stopped reading for %.0f s; request %s aborted", self.config.client_write_timeout_s,
                           state.request_id)
            raise StreamAborted(reason)
        if reason == "body_timeout":
            state.outcome = Outcome.REJECTED
            if not state.started:
                await send_error(send, 408, f"no request body byte for {self.config.body_timeout_s:g} s",
                                 "request_timeout", close=True)
            return
        self.recorder.upstream_error("timeout")
        if not state.started:
            state.outcome = Outcome.ENGINE_ERROR
            logger.warning("upstream sent no response head within %g s (request %s)",
                           self.config.upstream_timeout_s, state.request_id)
            await send_error(send, 504, f"the upstream did not answer within {self.config.upstream_timeout_s:g} s",
                             "upstream_timeout")
            return
        state.outcome = Outcome.MIDSTREAM_FAILURE
        logger.warning("upstream idle for %g s mid-response (request %s); stream cut",
                       self.config.upstream_idle_timeout_s, state.request_id)
        raise StreamAborted(reason)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, flight: _Flight, state: _State, start: float
    ) -> None:
        cfg = self.config
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        route = ROUTES.get(scope["path"].rstrip("/") or "/")
        request_id = b""
        tenant_raw: bytes | None = None
        content_length = -1
        head_bytes = len(raw_path) + 16
        for name, value in headers:
            head_bytes += len(name) + len(value) + 4
            if name == b"x-request-id":
                request_id = value
            elif name == self._tenant_header:
                tenant_raw = value
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else -2
        state.request_id = request_id.decode("latin-1") if _REQUEST_ID.fullmatch(request_id) else uuid.uuid4().hex
        if route is not None:
            try:
                tenant = self.tenants.label(tenant_raw.decode("latin-1") if tenant_raw is not None else None)
                state.exchange = Exchange(self.recorder, self.models, route=route, tenant=tenant,
                                          request_id=state.request_id, start=start)
            except Exception:
                self._recording_failed()

        # Limits first: nothing is read or sent upstream for a request that breaks one.
        problem = None
        if len(headers) > cfg.max_headers or head_bytes > cfg.max_header_bytes:
            problem = (431, f"request head over the limit ({cfg.max_headers} fields, {cfg.max_header_bytes} bytes)",
                       "request_header_fields_too_large")
        elif method == "CONNECT" or not raw_path.startswith(b"/"):
            problem = (400, "only origin-form request targets are proxied", "invalid_request_target")
        elif content_length == -2:
            problem = (400, "invalid content-length", "invalid_request")
        elif content_length > cfg.max_body_bytes:
            problem = (413, f"request body over the limit of {cfg.max_body_bytes} bytes", "request_too_large")
        if problem is not None:
            state.outcome = Outcome.REJECTED
            await send_error(send, *problem, close=True)
            return

        body = await self._read_body(receive, flight, state)
        if body is None:
            if state.outcome is Outcome.REJECTED:
                await send_error(send, 413, f"request body over the limit of {cfg.max_body_bytes} bytes",
                                 "request_too_large", close=True)
            return
        state.listener = asyncio.get_running_loop().create_task(self._listen(receive, flight))

        prepared = Prepared(body, False, False, "")
        ex = state.exchange
        if route is not None:
            try:
                prepared = prepare(route, body, inject_usage=cfg.inject_usage)
                if ex is not None:
                    ex.stream = prepared.stream
                    ex.requested(prepared.requested_model)
            except Exception:
                self._recording_failed()
                state.exchange = None
        upstream_head = self._request_head(method, raw_path, scope.get("query_string", b""), headers,
                                           len(prepared.body), request_id, state.request_id)
        flight.phase, flight.since = HEAD, time.monotonic()
        head = await self._exchange(upstream_head + prepared.body, method, state, send)
        if head is not None:
            await self._relay(head, prepared, flight, state, send)

    def _request_head(
        self, method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]], length: int,
        client_request_id: bytes, request_id: str,
    ) -> bytes:
        drop = _HOP_BY_HOP
        for name, value in headers:
            if name == b"connection":  # headers the client named as hop-by-hop go too
                drop = drop | {t.strip().lower() for t in value.split(b",")}
        target = raw_path + (b"?" + query if query else b"")
        lines = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self.config.upstream_authority,
                 b"\r\ncontent-length: ", str(length).encode("ascii"), b"\r\n"]
        for name, value in headers:
            if name not in drop:
                lines += [name, b": ", value, b"\r\n"]
        if not client_request_id:
            lines += [b"x-request-id: ", request_id.encode("ascii"), b"\r\n"]
        lines.append(b"\r\n")
        return b"".join(lines)

    async def _read_body(self, receive: Receive, flight: _Flight, state: _State) -> bytes | None:
        limit = self.config.max_body_bytes
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                state.outcome = Outcome.CLIENT_CANCEL
                return None
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    state.outcome = Outcome.REJECTED
                    return None
                parts.append(chunk)
                flight.since = time.monotonic()
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _listen(self, receive: Receive, flight: _Flight) -> None:
        """After the body: the next message can only be http.disconnect."""
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                if flight.phase != DONE and not flight.reason:
                    flight.reason = "client_cancel"
                    flight.task.cancel()
                return

    async def _exchange(self, request: bytes, method: str, state: _State, send: Send) -> ResponseHead | None:
        """Send the request and read the answer's head; on failure answer 502 and return None."""
        for attempt in (0, 1):
            try:
                conn, reused = await self.pool.acquire()
            except UpstreamError as exc:
                await self._upstream_failed(exc, state, send)
                return None
            state.conn = conn
            try:
                await conn.send(request)
                return await conn.read_head(method)
            except (UpstreamError, ConnectionError, OSError) as exc:
                conn.close()
                state.conn = None
                if attempt == 0 and reused and not conn.received_any:
                    continue  # an idle keep-alive connection the upstream had closed: retry once, fresh
                err = exc if isinstance(exc, UpstreamError) else UpstreamError("closed", str(exc))
                await self._upstream_failed(err, state, send)
                return None
        raise AssertionError("unreachable")

    async def _upstream_failed(self, exc: UpstreamError, state: _State, send: Send) -> None:
        self.recorder.upstream_error(exc.kind)
        state.outcome = Outcome.ENGINE_ERROR
        logger.warning("upstream %s error (request %s): %s", exc.kind, state.request_id, exc)
        await send_error(send, 502, f"upstream {exc.kind} error: {exc}", f"upstream_{exc.kind}_error")

    async def _relay(self, head: ResponseHead, prepared: Prepared, flight: _Flight, state: _State, send: Send) -> None:
        conn = state.conn
        assert conn is not None
        status = head.status if head.status in _VALID_STATUS else 502
        sse = False
        out_headers: list[tuple[bytes, bytes]] = []
        for name, value in head.headers:
            if name in _RESPONSE_DROP:
                continue
            if name == b"content-type" and value.startswith(b"text/event-stream"):
                sse = True
            out_headers.append((name, value))
        strip = prepared.strip_usage and sse
        if strip or head.chunked or head.length is None:
            out_headers = [(n, v) for n, v in out_headers if n != b"content-length"]
        ex = state.exchange
        ok = status < 400
        if status >= 500:
            state.outcome = Outcome.ENGINE_ERROR
        elif status >= 400:
            state.outcome = Outcome.REJECTED
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        state.started = True
        scanner = SseScanner() if sse else None
        filt = (SseFilter(ex, strip=strip, ok=ok, fingerprint=self.fingerprint, recorder=self.recorder)
                if sse and (ex is not None or strip) else None)
        capture: bytearray | None = bytearray() if ex is not None and not sse else None
        complete_capture = True
        cap = self.config.max_usage_body_bytes
        monotonic = time.monotonic
        first_body = True
        last = b""  # the piece that completed the answer: sent with the end of the response in one write
        last_content = 0
        while True:
            flight.phase, flight.since = STREAM, monotonic()
            try:
                piece = await conn.read_body()
            except UpstreamError as exc:
                self.recorder.upstream_error(exc.kind)
                state.outcome = Outcome.MIDSTREAM_FAILURE
                logger.warning("upstream %s mid-response (request %s): %s", exc.kind, state.request_id, exc)
                raise StreamAborted(str(exc)) from None
            if not piece:
                break
            content = 0
            if scanner is not None:
                events = scanner.feed(piece)
                if filt is not None and events:
                    try:
                        events, content = filt.process(events)
                    except Exception:  # fail open: pass the events on as they came, unmeasured
                        self._recording_failed()
                        filt = None
                        ex = state.exchange = None
                        content = 0
                body = b"".join(events)
            else:
                body = piece
                if capture is not None:
                    capture += piece
                    if len(capture) > cap:
                        complete_capture = False
                        del capture[: len(capture) - _TAIL_BYTES]
                if first_body and ok:
                    content = 1
                first_body = False
            if conn.complete:
                last, last_content = body, content
                break
            if not body:
                continue
            flight.phase, flight.since = WRITE, monotonic()
            await send({"type": "http.response.body", "body": body, "more_body": True})
            if content and ex is not None:
                try:
                    ex.content_sent(content, monotonic())
                except Exception:
                    self._recording_failed()
                    ex = state.exchange = None
        parts = [last]
        error_event = False
        if filt is not None:
            held, held_content = filt.finish()
            error_event = filt.error_event
            parts += held
            last_content += held_content
        if scanner is not None:
            parts.append(scanner.flush())
        if ex is not None and capture is not None:
            try:
                found = inspect_body(bytes(capture), complete=complete_capture)
                ex.usage = found.usage
                error_event = found.error and ok
                if found.model and ok:
                    ex.answered_as(found.model)
            except Exception:
                self._recording_failed()
                ex = state.exchange = None
        if state.outcome is None:
            state.outcome = Outcome.ENGINE_ERROR if error_event else Outcome.SUCCESS
        flight.phase, flight.since = WRITE, monotonic()
        await send({"type": "http.response.body", "body": b"".join(parts), "more_body": False})
        if last_content and ex is not None:
            try:
                ex.content_sent(last_content, monotonic())
            except Exception:
                self._recording_failed()
                state.exchange = None


class _State:
    """What the interruption handlers need to know about a request so far."""

    __slots__ = ("conn", "exchange", "listener", "outcome", "request_id", "started")

    def __init__(self) -> None:
        self.listener: asyncio.Task[None] | None = None
        self.conn: Connection | None = None
        self.exchange: Exchange | None = None
        self.outcome: Outcome | None = None
        self.request_id = ""
        self.started = False
