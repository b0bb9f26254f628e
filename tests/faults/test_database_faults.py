"""Busy databases and dying servers: retried inside, never a 5xx, nothing lost."""

from __future__ import annotations

import os
import random
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


KILL_CLIENTS = 16
KILLS = 10 if os.environ.get("TUNEHUB_FAULTS") == "long" else 3


def test_server_killed_mid_load_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """kill -9 of the server at random moments while 16 clients ask and tell, then a
    restart: every acknowledged tell is stored, and retried asks made no extra trial."""
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    port = free_port()
    command = [str(Path(sys.executable).parent / "tunehub"), "server", "--port", str(port)]
    env = {**os.environ, "TUNEHUB_DATABASE_URL": database_url}
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until_up(url, proc)
        return proc

    proc = start()
    with tunehub.Client(url) as client:
        study_id = client.create_study(name="crash", space={"x": tunehub.Float(0, 1)}, seed=1).id
    told: dict[int, float] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with tunehub.Client(url, max_retry_seconds=120) as mine:
            study = mine.get_study(study_id)
            step = 0
            while not stop.is_set():
                try:
                    trial = study.ask()
                    value = worker + step / 10_000  # unique per tell
                    trial.tell(value)
                except BaseException as error:
                    errors.append(error)
                    return
                told[trial.id] = value
                step += 1

    workers = [threading.Thread(target=load, args=(w,)) for w in range(KILL_CLIENTS)]
    for worker in workers:
        worker.start()
    rng = random.Random(7)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = start()
        acknowledged = len(told)
        deadline = time.monotonic() + 60
        while len(told) < acknowledged + 100 and time.monotonic() < deadline and not errors:
            time.sleep(0.1)  # the clients carry on past the last restart
        stop.set()
        for worker in workers:
            worker.join(timeout=180)
        assert not errors, errors
        with tunehub.Client(url) as client:
            trials = client.get_study(study_id).trials()
        assert len(told) >= acknowledged + 100
        assert sorted(t.number for t in trials) == list(range(len(trials)))  # gap-free
        by_id = {t.id: t for t in trials}
        for trial_id, value in told.items():  # every acknowledged tell is stored
            assert by_id[trial_id].state == tunehub.TrialState.COMPLETED
            assert by_id[trial_id].values == {"loss": value}
        # A kill between commit and answer leaves no orphan: retried asks got the same trial.
        assert len(trials) == len(told)
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=20)
