"""Engines for the two supported databases, set up for many concurrent writers.

SQLite runs in WAL mode; write transactions start with ``BEGIN IMMEDIATE`` so a
writer takes the database's single write lock up front instead of failing to
upgrade a read lock half-way (the usual source of "database is locked").
PostgreSQL goes through psycopg 3. JSON columns are read with orjson: a study's
page of trials decodes four JSON documents per trial.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from contextlib import suppress
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

DEFAULT_DATABASE_URL = "sqlite:///./tunehub.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000

_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def normalize_url(url: str | URL) -> URL:
    """Pick our drivers: ``postgresql://`` means psycopg 3, not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not (parsed.drivername.startswith("sqlite") or parsed.drivername == "postgresql+psycopg"):
        raise ValueError(
            f"database URL scheme {parsed.drivername!r} is not supported: "
            "use sqlite:///path.db or postgresql://user@host/db"
        )
    return parsed


def _json_loads(text: str | bytes) -> Any:
    """orjson, or the standard library for what orjson refuses (``NaN`` written by ``json``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | URL) -> Engine:
    parsed = normalize_url(url)
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(parsed)
    return sa.create_engine(
        parsed,
        pool_size=10,
        max_overflow=30,
        pool_pre_ping=True,
        pool_recycle=3600,
        json_deserializer=_json_loads,
    )


def _sqlite_engine(url: URL) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "an in-memory SQLite database cannot be shared by server threads: "
            "give a file, e.g. sqlite:///./tunehub.db"
        )
    _create_private(url.database)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=32,
        json_deserializer=_json_loads,
    )
    # One writer at a time inside this process: threads queue on a lock instead of
    # spinning in SQLite's busy handler. Other processes still meet the busy timeout.
    _WRITE_LOCKS[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); the driver must not.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        # Straight to the driver: this runs once per request, and SQLAlchemy's
        # statement machinery would cost ten times what SQLite takes for a BEGIN.
        driver = conn.connection.driver_connection
        assert driver is not None
        # A caller that must not block (the event loop) fails at once on a busy database.
        wait = 0 if options.get("tunehub_nowait", False) else SQLITE_BUSY_TIMEOUT_MS
        driver.execute(f"PRAGMA busy_timeout={wait}")
        driver.execute("BEGIN IMMEDIATE" if options.get("tunehub_write", False) else "BEGIN")

    return engine


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only (SQLite gives its -wal and
    -shm files the same mode): it holds every study and the key digests."""
    if path.startswith("file:") or os.path.exists(path):
        return
    with suppress(OSError):  # exists by now, or SQLite will say why it cannot open it
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def sqlite_write_lock(engine: Engine) -> threading.Lock | None:
    """The in-process writer lock of a SQLite engine; ``None`` for PostgreSQL."""
    return _WRITE_LOCKS.get(engine)
