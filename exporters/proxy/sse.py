"""Incremental Server-Sent Events framing: split a byte stream into whole events, bytes untouched.

The proxy forwards exactly the bytes it received; it only needs to know where each event ends (to
look at its `data`, and to drop the one usage chunk it asked for). An event ends at a blank line,
and a line ends at CRLF, LF or CR (WHATWG HTML, "event stream interpretation"). A trailing CR is
held back until the next read, since it may be the first half of a CRLF.
"""

from __future__ import annotations

import re

_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SseScanner:
    """Feed it reads as they arrive; it returns the complete events (each with its terminator)."""

    __slots__ = ("_buffer", "max_event_bytes")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = b""
        self.max_event_bytes = max_event_bytes

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        # Fast path (vLLM): events end with "\n\n" and contain no CR.
        if b"\r" not in buffer:
            end = buffer.rfind(b"\n\n")
            if end < 0:
                self._buffer = buffer
                return self._overflow()
            end += 2
            self._buffer = buffer[end:]
            head = buffer[:end]
            parts = head.split(b"\n\n")
            parts.pop()  # "" after the last terminator
            return [p + b"\n\n" for p in parts]
        events: list[bytes] = []
        start = 0
        for match in _EVENT_END.finditer(buffer):
            if match.end() == len(buffer) and buffer.endswith(b"\r"):
                break  # may be a CR of a CRLF split across reads
            events.append(buffer[start : match.end()])
            start = match.end()
        self._buffer = buffer[start:]
        return events + self._overflow()

    def _overflow(self) -> list[bytes]:
        """An event larger than the limit is passed on as it is, so nothing is held without bound."""
        if len(self._buffer) > self.max_event_bytes:
            out, self._buffer = self._buffer, b""
            return [out]
        return []

    def flush(self) -> bytes:
        """Whatever is left at the end of the stream (an unterminated last event)."""
        out, self._buffer = self._buffer, b""
        return out

    @property
    def pending(self) -> int:
        return len(self._buffer)


def event_data(event: bytes) -> bytes | None:
    """The event's `data` (lines joined by LF), or None when it has no data field (comments, retry)."""
    if event.startswith(b"data: ") and event.count(b"\n") <= 2 and b"\r" not in event:
        return event[6:].rstrip(b"\n")
    lines: list[bytes] = []
    for line in _LINE_END.split(event):
        if line.startswith(b"data"):
            value = line[4:]
            if value[:1] == b":":
                value = value[1:]
                if value[:1] == b" ":
                    value = value[1:]
            elif value:
                continue  # a field named e.g. "database": not data
            lines.append(value)
    return b"\n".join(lines) if lines else None


def event_name(event: bytes) -> bytes:
    """The `event:` field, or b"message" (the SSE default)."""
    if not event.startswith(b"event") and b"\nevent" not in event and b"\revent" not in event:
        return b"message"
    for line in _LINE_END.split(event):
        if line.startswith(b"event:"):
            return line[6:].strip()
    return b"message"
