"""API key rows: create, find by digest, list, revoke.

Finders return ``None`` when no live key matches. Keys are never stored, only
their SHA-256 digests (see ``tunehub.server.auth``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunehub.server.store.tables import api_keys


def insert_key(
    conn: sa.Connection, *, name: str, scope: str, digest: str, prefix: str, now: float
) -> sa.Row[Any]:
    return conn.execute(
        api_keys.insert()
        .values(name=name, scope=scope, digest=digest, prefix=prefix, created_at=now)
        .returning(*api_keys.c)
    ).one()


def key_named(conn: sa.Connection, name: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(api_keys).where(api_keys.c.name == name)).first()


def live_scope(conn: sa.Connection, digest: str) -> str | None:
    """The scope of the unrevoked key with this digest."""
    query = sa.select(api_keys.c.scope).where(
        api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None)
    )
    return conn.execute(query).scalar()


def any_key(conn: sa.Connection) -> bool:
    """Whether a key was ever made here, revoked or not: keys are required for good then."""
    return conn.execute(sa.select(api_keys.c.id).limit(1)).first() is not None


def key_with_digest(conn: sa.Connection, digest: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(api_keys).where(api_keys.c.digest == digest)).first()


def live_admin_names(conn: sa.Connection) -> list[str]:
    """The live admin keys' names, locked until the transaction ends (PostgreSQL), so two
    revokes at once cannot both see another admin left."""
    query = (
        sa.select(api_keys.c.name)
        .where(api_keys.c.scope == "admin", api_keys.c.revoked_at.is_(None))
        .with_for_update()
    )
    return list(conn.execute(query).scalars())


def all_keys(conn: sa.Connection) -> list[sa.Row[Any]]:
    return list(conn.execute(sa.select(api_keys).order_by(api_keys.c.id)))


def revoke_key(conn: sa.Connection, name: str, now: float) -> bool:
    """Revoke the live key named ``name``; False when there is none."""
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0
