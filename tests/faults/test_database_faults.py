"""Busy databases and dying servers: retried inside, never a 5xx, nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

import tunehub
from tests.support.postgres import create_database, free_port
from tests.support.server import live_server, upgrade, wait_until_up
from tunehub.server.store.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine
from tunehub.server.store.transactions import is_transient, run_write


def test_sqlite_locked_longer_than_busy_timeout_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with live_server(f"sqlite:///{path}") as url, tunehub.Client(url) as client:
        study = client.create_study(name="locked", space={"x": tunehub.Float(0, 1)})
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
        hold = SQLITE_BUSY_TIMEOUT_MS / 1000 + 1.5
        threading.Timer(hold, lambda: blocker.execute("COMMIT")).start()
        started = time.monotonic()
        health: list[int] = []

        def probe() -> None:  # the event loop keeps serving while the ask waits
            time.sleep(1.0)
            health.append(httpx.get(f"{url}/api/v1/health", timeout=2.0).status_code)

        prober = threading.Thread(target=probe)
        prober.start()
        trial = study.ask()  # waits out the busy timeout, then the server retries
        assert time.monotonic() - started >= hold - 0.5
        prober.join()
        assert health == [200]
        trial.tell(0.5)
        assert trial.info.state == tunehub.TrialState.COMPLETED
        blocker.close()


def _deadlock(url: str) -> DBAPIError:
    """Provoke a real PostgreSQL deadlock and return the error the victim got."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE d (id int primary key, v int)")
        conn.exec_driver_sql("INSERT INTO d VALUES (1, 0), (2, 0)")
    errors: list[DBAPIError] = []
    barrier = threading.Barrier(2)

    def side(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"UPDATE d SET v = v + 1 WHERE id = {first}")
                barrier.wait()
                conn.exec_driver_sql(f"UPDATE d SET v = v + 1 WHERE id = {second}")
        except DBAPIError as error:
            errors.append(error)

    threads = [threading.Thread(target=side, args=p) for p in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert len(errors) == 1
    return errors[0]


def test_postgres_deadlock_is_transient_and_retried(postgres_prefix: str) -> None:
    url = create_database(postgres_prefix, "deadlocks")
    error = _deadlock(url)
    assert isinstance(error.orig, psycopg.errors.DeadlockDetected)
    assert is_transient(error)
    engine = make_engine(url)
    calls = []

    def work(conn: sa.Connection) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return int(conn.exec_driver_sql("SELECT count(*) FROM d").scalar_one())

    assert run_write(engine, work) == 2 and len(calls) == 2
    engine.dispose()


def test_postgres_serialization_failure_is_transient(postgres_prefix: str) -> None:
    url = create_database(postgres_prefix, "serial")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE s (id int primary key, v int)")
        conn.exec_driver_sql("INSERT INTO s VALUES (1, 0)")
    a = engine.connect().execution_options(isolation_level="SERIALIZABLE")
    b = engine.connect().execution_options(isolation_level="SERIALIZABLE")
    a.begin()
    b.begin()
    a.exec_driver_sql("SELECT v FROM s WHERE id = 1").all()
    b.exec_driver_sql("SELECT v FROM s WHERE id = 1").all()
    a.exec_driver_sql("UPDATE s SET v = 1 WHERE id = 1")
    a.commit()
    with pytest.raises(DBAPIError) as info:
        b.exec_driver_sql("UPDATE s SET v = 2 WHERE id = 1")
    assert isinstance(info.value.orig, psycopg.errors.SerializationFailure)
    assert is_transient(info.value)
    b.rollback()
    a.close()
    b.close()
    engine.dispose()


def test_server_killed_mid_load_loses_nothing(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    port = free_port()
    command = [str(Path(sys.executable).parent / "tunehub"), "server", "--port", str(port)]
    env = {**os.environ, "TUNEHUB_DATABASE_URL": database_url}

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until_up(f"http://127.0.0.1:{port}", proc)
        return proc

    proc = start()
    client = tunehub.Client(f"http://127.0.0.1:{port}", max_retry_seconds=60)
    study = client.create_study(name="crash", space={"x": tunehub.Float(0, 1)}, seed=1)
    told: dict[int, float] = {}
    errors: list[BaseException] = []

    def load() -> None:
        try:
            for i in range(300):
                trial = study.ask()
                trial.tell(float(i))
                told[trial.id] = float(i)
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=load)
    worker.start()
    for _ in range(2):
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start()
    worker.join(timeout=120)
    try:
        assert not errors, errors
        trials = study.trials()
        completed = [t for t in trials if t.state == tunehub.TrialState.COMPLETED]
        assert len(completed) == 300
        assert sorted(t.number for t in trials) == list(range(len(trials)))
        for t in completed:
            assert t.values == {"loss": told[t.id]}
        # A kill between commit and answer leaves no orphan: retried asks got the same trial.
        assert len(trials) == 300
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        client.close()
