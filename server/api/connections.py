"""Connections: what a client that never finishes its request may hold.

uvicorn closes an idle keep-alive connection after a few seconds, but a request
whose headers or body arrive a byte at a time, or never, keeps its connection (and
a file descriptor) for good, before any key is checked: a few thousand such sockets
from one client take a server down. ``GuardedHttp`` is uvicorn's HTTP protocol with
deadlines for the parts of a request the client controls, and a cap on the
connections one client address may hold at once. Work the server does (a slow
ask) has no deadline here.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADERS_SECONDS = float(os.environ.get("TUNEHUB_HEADERS_TIMEOUT_SECONDS") or 10.0)
"""From a connection's start, or the end of its last answer, until a request's headers
are complete (``TUNEHUB_HEADERS_TIMEOUT_SECONDS``)."""
BODY_IDLE_SECONDS = float(os.environ.get("TUNEHUB_BODY_TIMEOUT_SECONDS") or 30.0)
"""The longest pause while a request's body arrives (``TUNEHUB_BODY_TIMEOUT_SECONDS``)."""
MIN_BODY_RATE = 64 * 1024
"""Bytes per second a body must average, past its first ``BODY_IDLE_SECONDS``: a body
dripped a byte at a time never pauses long, but never ends either."""
PER_CLIENT = int(os.environ.get("TUNEHUB_MAX_CONNECTIONS_PER_CLIENT") or 256)
"""Connections one client address may hold at once (``TUNEHUB_MAX_CONNECTIONS_PER_CLIENT``;
raise it behind a proxy, where every client has the proxy's address)."""

_open: Counter[str] = Counter()


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a per-client cap."""

    _deadline: asyncio.TimerHandle | None = None
    _address: str | None = None
    _body_ends_by = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else None
        if self._address is not None:
            _open[self._address] += 1
            if _open[self._address] > PER_CLIENT:
                transport.close()
                return
        self._arm(HEADERS_SECONDS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            _open[self._address] -= 1
            if _open[self._address] <= 0:
                del _open[self._address]
            self._address = None
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body:
            declared = dict(self.headers).get(b"content-length", b"")
            size = int(declared) if declared.isdigit() else _max_body_bytes()
            self._body_ends_by = self.loop.time() + BODY_IDLE_SECONDS + size / MIN_BODY_RATE
            self._arm_body()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm_body()

    def _arm_body(self) -> None:
        self._arm(min(BODY_IDLE_SECONDS, self._body_ends_by - self.loop.time()))

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(HEADERS_SECONDS)  # the next request's headers, if one starts

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _max_body_bytes() -> int:
    from tunehub.server.settings import max_body_bytes

    return max_body_bytes()


def server_options() -> dict[str, Any]:
    """uvicorn settings for ``tunehub server``: this protocol, and at most as many
    connections as file descriptors allow (503 beyond, rather than failing accepts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    descriptors = soft if soft != resource.RLIM_INFINITY else 65_536
    return {"http": GuardedHttp, "limit_concurrency": max(64, min(8192, descriptors - 128))}
