"""A TCP relay between a client under test (the proxy) and a real upstream (vLLM).

It forwards bytes both ways over real sockets and records when the client side closed. With
``hold_after`` it forwards only that many bytes of each answer and holds the rest back until the
client side goes away, so a test can be sure the answer was still incomplete when the client
gave up: without it, a fast engine can finish a short answer before any disconnect reaches it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class Link:
    opened: float
    forwarded: int = 0  # upstream bytes passed on to the client side
    withheld: int = 0  # upstream bytes held back (hold_after)
    client_closed: float | None = None  # monotonic time the client side closed or reset


@dataclass
class Relay:
    host: str
    port: int
    links: list[Link] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _pump_up(client: socket.socket, upstream: socket.socket, link: Link) -> None:
    """Client to upstream; when the client side ends, note when and shut the upstream down."""
    try:
        while data := client.recv(65536):
            upstream.sendall(data)
    except OSError:
        pass
    link.client_closed = time.monotonic()
    for s in (upstream, client):
        with suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _pump_down(upstream: socket.socket, client: socket.socket, link: Link, hold_after: int | None) -> None:
    try:
        while data := upstream.recv(65536):
            if hold_after is not None and link.forwarded + len(data) > hold_after:
                keep = max(0, hold_after - link.forwarded)
                link.withheld += len(data) - keep
                data = data[:keep]
            if data:
                client.sendall(data)
                link.forwarded += len(data)
    except OSError:
        pass


@contextmanager
def running_relay(upstream_host: str, upstream_port: int, *, hold_after: int | None = None) -> Iterator[Relay]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)  # so the accept loop sees `stop`
    relay = Relay("127.0.0.1", listener.getsockname()[1])
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection((upstream_host, upstream_port))
            sockets.extend((client, upstream))
            link = Link(time.monotonic())
            relay.links.append(link)
            threading.Thread(target=_pump_up, args=(client, upstream, link), daemon=True).start()
            threading.Thread(target=_pump_down, args=(upstream, client, link, hold_after), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield relay
    finally:
        stop.set()
        listener.close()
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        acceptor.join(5)
