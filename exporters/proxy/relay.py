"""What the proxy does to a streamed (SSE) answer between reading it and sending it on: look at each
event (content? usage? error? model?) and, when the proxy asked for usage on the client's behalf,
drop the usage-only chunk and give the terminal chunks back the `system_fingerprint` that vLLM
moved onto it (`openai.stamp_fingerprint`).

The fingerprint is a constant of the engine build, learned from the first usage chunk seen. Until
it is known, a terminal chunk (and whatever follows it) is held back until the usage chunk that
reveals it, which for one choice follows at once; after that nothing is ever held.
"""

from __future__ import annotations

import logging

from exporters.proxy.measure import Exchange
from exporters.proxy.openai import NOT_JSON, inspect_chunk, stamp_fingerprint
from exporters.proxy.recorder import Recorder
from exporters.proxy.sse import event_data

logger = logging.getLogger("llmslo.proxy")


class Fingerprint:
    """The upstream's system_fingerprint as last seen on a usage chunk (None: it sends none)."""

    __slots__ = ("known", "value")

    def __init__(self) -> None:
        self.known = False
        self.value: str | None = None

    def learn(self, value: str | None) -> None:
        if self.known and value != self.value:
            logger.info("upstream system_fingerprint changed from %r to %r", self.value, value)
        self.known = True
        self.value = value


class SseFilter:
    __slots__ = ("_held", "error_event", "exchange", "fingerprint", "model_seen", "ok", "recorder", "strip")

    def __init__(
        self, exchange: Exchange | None, *, strip: bool, ok: bool, fingerprint: Fingerprint, recorder: Recorder
    ) -> None:
        self.exchange = exchange
        self.strip = strip
        self.ok = ok
        self.fingerprint = fingerprint
        self.recorder = recorder
        self.error_event = False
        self.model_seen = exchange is None
        self._held: list[tuple[bytes, bool, bool]] | None = None  # (event, terminal, content)

    def process(self, events: list[bytes]) -> tuple[list[bytes], int]:
        """The events to send now, and how many of them carry content."""
        out: list[bytes] = []
        content = 0
        ex = self.exchange
        for event in events:
            data = event_data(event)
            if data is None:
                content += self._emit(out, event, False, False)
                continue
            info = inspect_chunk(data, need_model=not self.model_seen and ex is not None)
            if info is NOT_JSON:
                self.recorder.stream_parse_errors += 1
                content += self._emit(out, event, False, False)
                continue
            if ex is not None:
                if info.usage is not None:
                    ex.usage = info.usage
                if info.error:
                    self.error_event = True
                if not self.model_seen and info.model and self.ok:
                    ex.answered_as(info.model)
                    self.model_seen = True
            if self.strip:
                if info.usage_only:
                    self.fingerprint.learn(info.fingerprint)
                    content += self._release(out, info.fingerprint)
                    continue  # the chunk the client did not ask for
                if info.terminal:
                    if not self.fingerprint.known:
                        if self._held is None:
                            self._held = []
                        self._held.append((event, True, info.content))
                        continue
                    if self.fingerprint.value is not None:
                        event = stamp_fingerprint(event, self.fingerprint.value)
            content += self._emit(out, event, False, info.content)
        return out, content

    def _emit(self, out: list[bytes], event: bytes, terminal: bool, content: bool) -> int:
        if self._held is not None:
            self._held.append((event, terminal, content))
            return 0
        out.append(event)
        return 1 if content else 0

    def _release(self, out: list[bytes], fingerprint: str | None) -> int:
        held, self._held = self._held, None
        if not held:
            return 0
        content = 0
        for event, terminal, has_content in held:
            out.append(stamp_fingerprint(event, fingerprint) if terminal and fingerprint is not None else event)
            content += has_content
        return content

    def finish(self) -> tuple[list[bytes], int]:
        """At the end of the stream: anything still held (no usage chunk came), unchanged."""
        out: list[bytes] = []
        held, self._held = self._held, None
        content = 0
        for event, _, has_content in held or ():
            out.append(event)
            content += has_content
        return out, content
