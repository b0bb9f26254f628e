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
from sqlalchemy.exc import IntegrityError

from tunehub.schema import KeyCreate, Scope
from tunehub.server.errors import Conflict, NotFound
from tunehub.server.store import keys as key_store
from tunehub.server.store.transactions import run_read, run_write

KEY_MARK = "th_"
PREFIX_CHARS = 10


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, body: KeyCreate) -> tuple[sa.Row[Any], str]:
    """The new key's row and the key itself, which is stored nowhere."""
    key = generate_key()

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


def revoke_key(engine: Engine, name: str, *, keep_an_admin: bool) -> None:
    """Revoke the live key ``name``; with ``keep_an_admin``, never the last live admin key."""

    def work(conn: sa.Connection) -> None:
        if keep_an_admin:
            admins = key_store.live_admin_names(conn)
            if admins == [name]:
                raise Conflict(
                    f"{name!r} is the last live admin key: revoking it would leave nobody "
                    "able to manage keys over HTTP. Make another admin key first (or revoke "
                    "it with 'tunehub keys revoke' on the database)",
                    field="name",
                )
        if not key_store.revoke_key(conn, name, time.time()):
            raise NotFound(f"no live key named {name!r}: see GET /api/v1/keys", field="name")

    run_write(engine, work)


MIN_GIVEN_KEY_CHARS = 32


def ensure_key(engine: Engine, key: str, scope: Scope) -> str:
    """Make ``key`` (given by whoever deploys the server) a live key of ``scope`` unless
    it is one already; returns what happened, for the server's start-up lines.

    The key's row is named from its digest, so a replaced key is a new row beside the
    old one (revoke the old one when nothing uses it). A key that was revoked stays
    revoked: an environment variable left behind cannot bring it back.
    """
    key = key.strip()
    if len(key) < MIN_GIVEN_KEY_CHARS or any(c.isspace() for c in key):
        raise ValueError(
            f"the {scope.value} key given must be at least {MIN_GIVEN_KEY_CHARS} characters "
            "without spaces: make one with 'tunehub keys generate'"
        )
    digest = digest_of(key)

    def work(conn: sa.Connection) -> str:
        row = key_store.key_with_digest(conn, digest)
        if row is not None:
            if row.revoked_at is not None:
                return f"the {scope.value} key given ({row.name}) was revoked: it stays revoked"
            if row.scope != scope.value:
                return f"the {scope.value} key given is the {row.scope} key {row.name!r}: as is"
            return f"{scope.value} key {row.name!r} is live"
        name = f"{scope.value}-{digest[:12]}"
        key_store.insert_key(
            conn,
            name=name,
            scope=scope.value,
            digest=digest,
            # A key of ours starts with KEY_MARK and random characters; of a key made
            # elsewhere, list no more than a few characters.
            prefix=key[:PREFIX_CHARS] if key.startswith(KEY_MARK) else key[:4],
            now=time.time(),
        )
        return f"{scope.value} key {name!r} made from the key given"

    try:
        return run_write(engine, work)
    except IntegrityError:  # another server process made it at the same moment
        return run_write(engine, work)


def generate_key() -> str:
    return KEY_MARK + secrets.token_urlsafe(32)
