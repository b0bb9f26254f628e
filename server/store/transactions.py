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
from contextvars import ContextVar
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from tunehub.server.errors import DatabaseUnavailable
from tunehub.server.store.engine import sqlite_write_lock

T = TypeVar("T")


class WouldBlock(Exception):
    """The database is busy and the caller asked not to wait for it."""


# Set by ``without_waiting``: write transactions then fail with ``WouldBlock``
# instead of waiting for a lock (the caller is an event loop that must not stall).
_no_wait: ContextVar[bool] = ContextVar("tunehub_no_wait", default=False)


@contextlib.contextmanager
def without_waiting() -> Iterator[None]:
    token = _no_wait.set(True)
    try:
        yield
    finally:
        _no_wait.reset(token)


RETRY_DEADLINE_SECONDS = 60.0
UNREACHABLE_DEADLINE_SECONDS = 10.0
"""How long a request waits for a database it cannot reach before answering 503."""
_PG_RETRYABLE = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_PG_GONE = {"57P01", "57P02", "57P03"}  # admin shutdown, crash shutdown, cannot connect now


def _driver_error(error: BaseException) -> BaseException | None:
    if isinstance(error, DBAPIError):
        return error.orig
    if isinstance(error, sqlite3.OperationalError):
        return error
    return None


def is_transient(error: BaseException) -> bool:
    """Whether re-running the transaction can succeed: the database was busy.

    Takes SQLAlchemy's wrapped errors and the SQLite driver's own (our BEGIN goes to
    the driver directly, see ``store/engine.py``).
    """
    orig = _driver_error(error)
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message


def is_unreachable(error: BaseException) -> bool:
    """Whether the database could not be reached: the connection was refused, lost, or
    closed by a server shutting down. The pool's pre-ping replaces such connections,
    so a later try succeeds once the database is back."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    orig = _driver_error(error)
    if orig is None or isinstance(orig, sqlite3.Error):
        return False
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate.startswith("08") or sqlstate in _PG_GONE:
        return True
    # psycopg's OperationalError without a SQLSTATE: no server answered at all.
    return type(orig).__name__ == "OperationalError" and not sqlstate


def run_write(engine: Engine, work: Callable[[sa.Connection], T]) -> T:
    """Run ``work`` in one write transaction, re-running it on transient failures."""
    return _run(engine, work, write=True)


def run_read(engine: Engine, work: Callable[[sa.Connection], T], *, snapshot: bool = False) -> T:
    """Run ``work`` in one read transaction (a consistent snapshot on SQLite's WAL).

    ``snapshot`` asks PostgreSQL for one too (REPEATABLE READ): every query of
    ``work`` then sees the same committed state, as they always do on SQLite.
    """
    return _run(engine, work, write=False, snapshot=snapshot)


def _run(
    engine: Engine, work: Callable[[sa.Connection], T], *, write: bool, snapshot: bool = False
) -> T:
    nowait = write and _no_wait.get()
    started = time.monotonic()
    delay = 0.005
    while True:
        try:
            with _writer_slot(engine, write, nowait), engine.connect() as conn:
                if write:
                    conn = conn.execution_options(tunehub_write=True, tunehub_nowait=nowait)
                elif snapshot and engine.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    return work(conn)
        except (DBAPIError, sqlite3.OperationalError) as error:
            waited = time.monotonic() - started
            unreachable = is_unreachable(error)
            if nowait and (unreachable or is_transient(error)):
                raise WouldBlock(str(error)) from error  # wait in a thread, not on the loop
            if unreachable:
                if waited > UNREACHABLE_DEADLINE_SECONDS:
                    raise DatabaseUnavailable(
                        "the database cannot be reached; the server retries by itself: "
                        "try again shortly (see Retry-After)"
                    ) from error
            elif not is_transient(error) or waited > RETRY_DEADLINE_SECONDS:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def _writer_slot(engine: Engine, write: bool, nowait: bool) -> Iterator[None]:
    lock = sqlite_write_lock(engine) if write else None
    if lock is None:
        yield
        return
    if not lock.acquire(blocking=not nowait):
        raise WouldBlock("another writer of this process holds the database")
    try:
        yield
    finally:
        lock.release()
