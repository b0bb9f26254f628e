"""Who may call what: API keys sent as ``Authorization: Bearer``.

Keys are required once the server is started with ``--auth`` (``TUNEHUB_AUTH=on``)
or the database holds a live key: creating the first key locks the door. Reads
need a ``read`` key, every other method a ``write`` key, ``/keys`` an ``admin``
key. Answers are cached a few seconds per process, so a request costs no query
and a revoked key stops working within ``KEY_TTL_SECONDS`` on every server.
"""

from __future__ import annotations

import time

from fastapi import Request
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from tunehub.schema import Scope
from tunehub.server.api.guards import SAFE_METHODS
from tunehub.server.errors import Forbidden, Unauthorized
from tunehub.server.flows.keys import digest_of
from tunehub.server.store import keys as key_store
from tunehub.server.store.transactions import run_read

KEY_TTL_SECONDS = 5.0
UNKNOWN_TTL_SECONDS = 1.0
LOCK_TTL_SECONDS = 2.0
MAX_CACHED_KEYS = 10_000


class Gate:
    """The keys this process has checked lately, and whether keys are required."""

    def __init__(self, engine: Engine, *, always: bool) -> None:
        self.engine = engine
        self.always = always
        self._scopes: dict[str, tuple[Scope | None, float]] = {}
        self._locked: tuple[bool, float] = (always, 0.0)

    async def locked(self) -> bool:
        if self.always:
            return True
        value, until = self._locked
        if time.monotonic() >= until:
            value = await run_in_threadpool(run_read, self.engine, key_store.any_live_key)
            self._locked = (value, time.monotonic() + LOCK_TTL_SECONDS)
        return value

    async def scope_of(self, key: str) -> Scope | None:
        digest = digest_of(key)
        cached = self._scopes.get(digest)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        found = await run_in_threadpool(
            run_read, self.engine, lambda conn: key_store.live_scope(conn, digest)
        )
        scope = Scope(found) if found else None
        if len(self._scopes) >= MAX_CACHED_KEYS:
            self._scopes.clear()  # random keys from a scanner must not grow memory
        ttl = KEY_TTL_SECONDS if scope else UNKNOWN_TTL_SECONDS
        self._scopes[digest] = (scope, time.monotonic() + ttl)
        return scope

    def forget(self) -> None:
        """Drop cached answers (after this process created or revoked a key)."""
        self._scopes.clear()
        self._locked = (self.always, 0.0)


async def _check(request: Request, needed: Scope) -> None:
    gate: Gate = request.app.state.gate
    if not await gate.locked():
        return
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized(
            "this server needs an API key: send 'Authorization: Bearer <key>' (the SDK and "
            "workers read TUNEHUB_API_KEY; an admin makes keys with 'tunehub keys create')"
        )
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("the Authorization header must read 'Bearer <key>'")
    scope = await gate.scope_of(key.strip())
    if scope is None:
        raise Unauthorized("that API key is unknown or revoked: ask an admin for a new one")
    if not scope.allows(needed):
        raise Forbidden(
            f"a {scope.value} key cannot {request.method} {request.url.path}: "
            f"it needs a {needed.value} key"
        )


async def authorize(request: Request) -> None:
    """Reads need ``read``; anything that changes state needs ``write``."""
    await _check(request, Scope.READ if request.method in SAFE_METHODS else Scope.WRITE)


async def authorize_admin(request: Request) -> None:
    await _check(request, Scope.ADMIN)
