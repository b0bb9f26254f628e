"""Many clients, several server processes, one study: numbers stay unique, no tell is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tunehub
from tests.support.server import live_server, upgrade

# SQLite takes one writer at a time: 16 clients share 2,000 pairs. PostgreSQL takes
# 64 clients of 50 pairs each (`make faults`; 10 each in `make test`).
LONG = os.environ.get("TUNEHUB_FAULTS") == "long"
LOAD = {"sqlite": (16, 2000), "postgresql": (64, 64 * (50 if LONG else 10))}


@pytest.fixture
def two_process_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    with live_server(database_url, workers=2, log=tmp_path / "server.log") as url:
        yield url


def test_many_clients_2_servers_every_pair_stored(
    two_process_server: str, database_url: str
) -> None:
    clients, pairs = LOAD["postgresql" if database_url.startswith("postgresql") else "sqlite"]
    setup = tunehub.Client(two_process_server)
    study = setup.create_study(
        name="load",
        space={"x": tunehub.Float(-1, 1), "n": tunehub.Int(1, 100)},
        objectives={"y": "minimize"},
        seed=3,
    )
    remaining = [pairs]
    lock = threading.Lock()
    told: list[tuple[int, int, float]] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        with tunehub.Client(two_process_server, max_retry_seconds=60) as client:
            mine = client.get_study("load")
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                try:
                    trial = mine.ask(worker=f"client-{index}")
                    value = float(trial.params["x"]) * 1000 + trial.number  # type: ignore[arg-type]
                    trial.tell(value)
                    with lock:
                        told.append((trial.id, trial.number, value))
                except BaseException as error:
                    errors.append(error)
                    return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    trials = study.trials()
    assert len(trials) == pairs
    assert sorted(t.number for t in trials) == list(range(pairs))
    assert len({t.id for t in trials}) == pairs
    stored = {t.id: t for t in trials}
    for trial_id, number, value in told:
        assert stored[trial_id].number == number
        assert stored[trial_id].state == tunehub.TrialState.COMPLETED
        assert stored[trial_id].values == {"y": value}
    workers = {t.worker for t in trials}
    assert len(workers) == clients
    counts = httpx.get(f"{two_process_server}/api/v1/studies/{study.id}").json()["trial_counts"]
    assert counts == {"completed": pairs}
    setup.close()


PROCESSES = 32
PROCESS_PAIRS = 20 if LONG else 5
PROCESS_SCRIPT = """
import sys, tunehub
url, index, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tunehub.Client(url, max_retry_seconds=120) as client:
    study = client.create_study(name="burst", space={"x": tunehub.Float(0, 1)}, seed=5)
    for _ in range(pairs):
        trial = study.ask(worker="process-" + index)
        trial.tell(float(trial.params["x"]))
"""


def test_32_processes_starting_at_once_on_sqlite_share_one_study(tmp_path: Path) -> None:
    with live_server(f"sqlite:///{tmp_path / 'burst.db'}", workers=2) as url:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PROCESS_SCRIPT, url, str(i), str(PROCESS_PAIRS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(PROCESSES)
        ]
        failures = []
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            if proc.returncode != 0:
                failures.append(err[-2000:])
        assert not failures, failures[0]
        with tunehub.Client(url) as client:
            assert [s.name for s in client.list_studies()] == ["burst"]  # exactly one
            trials = client.get_study("burst").trials()
    assert len(trials) == PROCESSES * PROCESS_PAIRS
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert all(t.state == tunehub.TrialState.COMPLETED for t in trials)
    assert len({t.worker for t in trials}) == PROCESSES
