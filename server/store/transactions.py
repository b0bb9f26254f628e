"""Transactions that retry what a busy database throws at them.

SQLite's "database is locked" and PostgreSQL's serialization failures and
deadlocks are transient: the whole transaction function runs again, so a client
never sees them as a 5xx. Functions passed here must be safe to re-run (they
are: they only touch the database through the connection they are given).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from tunehub.server.store.engine import sqlite_write_lock

T = TypeVar("T")

RETRY_DEADLINE_SECONDS = 60.0
_PG_RETRYABLE = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def is_transient(error: BaseException) -> bool:
    """Whether re-running the transaction can succeed.

    Takes SQLAlchemy's wrapped errors and the SQLite driver's own (our BEGIN goes to
    the driver directly, see ``store/engine.py``).
    """
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        orig: BaseException | None = error.orig
    elif isinstance(error, sqlite3.OperationalError):
        orig = error
    else:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


def run_write(engine: Engine, work: Callable[[sa.Connection], T]) -> T:
    """Run ``work`` in one write transaction, re-running it on transient failures."""
    return _run(engine, work, write=True)


def run_read(engine: Engine, work: Callable[[sa.Connection], T]) -> T:
    """Run ``work`` in one read transaction (a consistent snapshot on SQLite's WAL)."""
    return _run(engine, work, write=False)


def _run(engine: Engine, work: Callable[[sa.Connection], T], *, write: bool) -> T:
    deadline = time.monotonic() + RETRY_DEADLINE_SECONDS
    delay = 0.005
    while True:
        try:
            with _writer_slot(engine, write), engine.connect() as conn:
                if write:
                    conn = conn.execution_options(tunehub_write=True)
                with conn.begin():
                    return work(conn)
        except (DBAPIError, sqlite3.OperationalError) as error:
            if not is_transient(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def _writer_slot(engine: Engine, write: bool) -> Iterator[None]:
    lock = sqlite_write_lock(engine) if write else None
    if lock is None:
        yield
        return
    with lock:
        yield
