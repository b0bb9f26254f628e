"""PostgreSQL crashes and comes back under load: the server answers 503 with
Retry-After while it is gone, its pool recovers by itself, and clients lose no tell."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

import tunehub
from tests.support.postgres import PostgresCluster, create_database, postgres_cluster
from tests.support.server import live_server, upgrade

pytestmark = pytest.mark.postgres

CLIENTS = 8
OUTAGE_SECONDS = 12.0  # past the server's own 10 s of retries: some requests get 503


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster(durable=True) as started:
        yield started


def test_a_crash_and_restart_of_postgres_mid_load_loses_no_acknowledged_tell(
    cluster: PostgresCluster,
) -> None:
    database_url = create_database(cluster.prefix, "restart")
    upgrade(database_url)
    told: list[tuple[int, float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with live_server(database_url, workers=2) as url:
        with tunehub.Client(url) as client:
            study = client.create_study(name="restart", space={"x": tunehub.Float(0, 1)})

        def work() -> None:
            with tunehub.Client(url, max_retry_seconds=120.0) as client:
                mine = client.get_study("restart")
                while not stop.is_set():
                    try:
                        trial = mine.ask()
                        value = float(trial.params["x"])
                        trial.tell(value)
                    except BaseException as error:
                        errors.append(error)
                        return
                    told.append((trial.id, value))

        threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        before = len(told)
        cluster.stop("immediate")
        # The key of an admin request is checked before any route runs: a database error
        # there used to become a 500, which clients do not retry.
        keyed: list[httpx.Response] = []
        check = threading.Thread(
            target=lambda: keyed.append(
                httpx.get(f"{url}/api/v1/keys", headers={"Authorization": "Bearer x"}, timeout=60)
            )
        )
        check.start()
        probe = httpx.get(f"{url}/api/v1/studies/{study.id}", timeout=60)
        check.join()
        time.sleep(max(0.0, OUTAGE_SECONDS - 10.0))
        cluster.start()
        started = time.monotonic()
        while len(told) < before + 50 and time.monotonic() - started < 60 and not errors:
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(timeout=180)

    assert not errors, errors
    assert probe.status_code == 503, probe.text
    assert float(probe.headers["retry-after"]) > 0 and "try again" in probe.json()["detail"]
    assert keyed[0].status_code == 503, keyed[0].text
    assert float(keyed[0].headers["retry-after"]) > 0
    assert len(told) >= before + 50  # the clients came back after the restart
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, number, state, value FROM trials WHERE study_id = :s"),
                {"s": study.id},
            ).all()
    finally:
        engine.dispose()
    stored = {row.id: row for row in rows}
    for trial_id, value in told:  # every acknowledged tell is stored as told
        assert stored[trial_id].state == "completed" and stored[trial_id].value == value
    numbers = sorted(row.number for row in rows)
    assert numbers == list(range(len(numbers)))  # unique and gap-free
    running = [row for row in rows if row.state == "running"]
    assert len(running) <= CLIENTS  # at most the asks cut off when the clients stopped
