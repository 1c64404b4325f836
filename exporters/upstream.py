"""Fetching an upstream /metrics endpoint, with every failure turned into a named kind.

The sidecar must keep serving whatever the upstream does (hang, refuse, send garbage, restart),
so this module never raises: it returns either the body or a `FetchError` whose `kind` becomes a
label value of `llmslo_exporter_scrape_errors_total`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

# Every kind the exporter can count, pre-declared so each error counter starts at 0 and
# `rate()` works from the first scrape.
FETCH_ERROR_KINDS = ("connect", "timeout", "http_status", "too_large", "protocol", "decode")


@dataclass(frozen=True, slots=True)
class FetchError:
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class Fetched:
    text: str
    seconds: float


class Upstream:
    """A keep-alive HTTP client for one target. Not thread-safe; the sidecar serialises calls."""

    def __init__(self, url: str, *, timeout: float = 3.0, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.url = url
        self._max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            headers={"Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1", "User-Agent": "llmslo-exporter"},
            follow_redirects=False,
        )

    def fetch(self) -> Fetched | FetchError:
        start = time.perf_counter()
        try:
            with self._client.stream("GET", self.url) as response:
                if response.status_code != 200:
                    return FetchError("http_status", f"{self.url} answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    return FetchError("too_large", f"body of {declared} bytes exceeds {self._max_bytes}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        return FetchError("too_large", f"body exceeds {self._max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            return FetchError("timeout", f"{self.url}: {type(exc).__name__}")
        except httpx.ConnectError as exc:
            return FetchError("connect", f"{self.url}: {exc}")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # A body cut short (Content-Length or chunked framing violated) lands here: a
            # truncated exposition is never parsed as if it were whole.
            return FetchError("protocol", f"{self.url}: {type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:
            return FetchError("connect", f"{self.url}: {type(exc).__name__}: {exc}")
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as exc:
            return FetchError("decode", f"{self.url}: body is not UTF-8 ({exc.reason} at byte {exc.start})")
        return Fetched(text, time.perf_counter() - start)

    def close(self) -> None:
        self._client.close()
