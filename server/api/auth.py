"""Who may call what: API keys sent as ``Authorization: Bearer``, checked before the
route reads a byte of the body.

Keys are required once the server is started with ``--auth`` (``TUNEHUB_AUTH=on``)
or the database has ever held a key: creating the first key locks the door, and
revoking keys never opens it again, in this process or any other. Reads need a
``read`` key, every other method a ``write`` key, ``/api/v1/keys`` an ``admin`` key,
even on a server without keys (the first key is made on the database with
``tunehub keys create``). ``/api/v1/health``, the API docs and the dashboard's files
are open; they hold no data. Answers are cached a few seconds per process, so a
request costs no query and a revoked key stops working within ``KEY_TTL_SECONDS``
on every server.

A pure ASGI middleware: a request refused here never has its body read, however
large, so anonymous clients cannot make the server parse anything.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from tunehub.schema import Scope as KeyScope
from tunehub.server.api.guards import SAFE_METHODS, App
from tunehub.server.api.problems import Receive, Scope, Send, send_problem
from tunehub.server.flows.keys import digest_of
from tunehub.server.store import keys as key_store
from tunehub.server.store.transactions import run_read

KEY_TTL_SECONDS = 5.0
UNKNOWN_TTL_SECONDS = 1.0
LOCK_TTL_SECONDS = 2.0
MAX_CACHED_KEYS = 10_000

API_PREFIX = "/api/v1"
OPEN_PATHS = frozenset({"/api/v1/health"})
KEYS_PATH = "/api/v1/keys"

NEEDS_KEY = (
    "this server needs an API key: send 'Authorization: Bearer <key>' (the SDK and "
    "workers read TUNEHUB_API_KEY; an admin makes keys with 'tunehub keys create')"
)
NEEDS_ADMIN = (
    "keys are managed with an admin key only: send 'Authorization: Bearer <admin key>'. "
    "Make the first one on the server's database with 'tunehub keys create --scope admin "
    "--name me' (TUNEHUB_API_KEY is where the SDK reads it)"
)


class Gate:
    """The keys this process has checked lately, and whether keys are required."""

    def __init__(self, engine: Engine, *, always: bool) -> None:
        self.engine = engine
        self.always = always
        self._scopes: dict[str, tuple[KeyScope | None, float]] = {}
        self._checked_until = 0.0

    async def locked(self) -> bool:
        if self.always:
            return True
        if time.monotonic() >= self._checked_until:
            if await run_in_threadpool(run_read, self.engine, key_store.any_key):
                self.always = True  # once locked, locked for the life of the process
            self._checked_until = time.monotonic() + LOCK_TTL_SECONDS
        return self.always

    async def scope_of(self, key: str) -> KeyScope | None:
        digest = digest_of(key)
        cached = self._scopes.get(digest)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        found = await run_in_threadpool(
            run_read, self.engine, lambda conn: key_store.live_scope(conn, digest)
        )
        scope = KeyScope(found) if found else None
        if len(self._scopes) >= MAX_CACHED_KEYS:
            self._scopes.clear()  # random keys from a scanner must not grow memory
        ttl = KEY_TTL_SECONDS if scope else UNKNOWN_TTL_SECONDS
        self._scopes[digest] = (scope, time.monotonic() + ttl)
        return scope

    def forget(self) -> None:
        """Drop cached answers (after this process created or revoked a key)."""
        self._scopes.clear()
        self._checked_until = 0.0


def needed_scope(method: str, path: str) -> KeyScope | None:
    """The scope a request needs; ``None`` for the open paths."""
    if path in OPEN_PATHS or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
        return None
    if path == KEYS_PATH or path.startswith(KEYS_PATH + "/"):
        return KeyScope.ADMIN
    return KeyScope.READ if method in SAFE_METHODS else KeyScope.WRITE


class KeyCheck:
    def __init__(self, app: App, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            needed = needed_scope(scope["method"], scope["path"])
            if needed is not None:
                refusal = await self._refusal(scope, needed)
                if refusal is not None:
                    status, detail = refusal
                    title = "Unauthorized" if status == 401 else "Forbidden"
                    headers = [(b"www-authenticate", b'Bearer realm="tunehub"')]
                    await send_problem(
                        send, status, title, detail, headers if status == 401 else []
                    )
                    return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope, needed: KeyScope) -> tuple[int, str] | None:
        if needed != KeyScope.ADMIN and not await self.gate.locked():
            return None
        header = _authorization(scope)
        if header is None:
            return 401, NEEDS_ADMIN if needed == KeyScope.ADMIN else NEEDS_KEY
        auth_scheme, _, key = header.partition(" ")
        if auth_scheme.lower() != "bearer" or not key.strip():
            return 401, "the Authorization header must read 'Bearer <key>'"
        held = await self.gate.scope_of(key.strip())
        if held is None:
            return 401, "that API key is unknown or revoked: ask an admin for a new one"
        if not held.allows(needed):
            return 403, (
                f"a {held.value} key cannot {scope['method']} {scope['path']}: "
                f"it needs a {needed.value} key"
            )
        return None


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None
