"""API keys: made here, shown once, kept as SHA-256 digests.

Keys are 32 random bytes, so a fast digest is as safe as a slow password hash
and costs a request nothing; ``th_`` marks them so secret scanners find leaks.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunehub.schema import KeyCreate
from tunehub.server.errors import Conflict, NotFound
from tunehub.server.store import keys as key_store
from tunehub.server.store.transactions import run_read, run_write

KEY_MARK = "th_"
PREFIX_CHARS = 10


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, body: KeyCreate) -> tuple[sa.Row[Any], str]:
    """The new key's row and the key itself, which is stored nowhere."""
    key = KEY_MARK + secrets.token_urlsafe(32)

    def work(conn: sa.Connection) -> sa.Row[Any]:
        if key_store.key_named(conn, body.name) is not None:
            raise Conflict(
                f"a key named {body.name!r} exists: pick another name, or revoke it first "
                "(a revoked key keeps its name)",
                field="name",
            )
        return key_store.insert_key(
            conn,
            name=body.name,
            scope=body.scope.value,
            digest=digest_of(key),
            prefix=key[:PREFIX_CHARS],
            now=time.time(),
        )

    return run_write(engine, work), key


def list_keys(engine: Engine) -> list[sa.Row[Any]]:
    return run_read(engine, key_store.all_keys)


def revoke_key(engine: Engine, name: str) -> None:
    def work(conn: sa.Connection) -> None:
        if not key_store.revoke_key(conn, name, time.time()):
            raise NotFound(f"no live key named {name!r}: see GET /api/v1/keys", field="name")

    run_write(engine, work)
