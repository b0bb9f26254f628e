"""Many clients, several server processes, one study: numbers stay unique, no tell is lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tunehub
from tests.support.server import live_server, upgrade

CLIENTS = 16
PAIRS = 2000


@pytest.fixture
def two_process_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    with live_server(database_url, workers=2, log=tmp_path / "server.log") as url:
        yield url


def test_16_clients_2_servers_2000_pairs(two_process_server: str) -> None:
    setup = tunehub.Client(two_process_server)
    study = setup.create_study(
        name="load",
        space={"x": tunehub.Float(-1, 1), "n": tunehub.Int(1, 100)},
        objectives={"y": "minimize"},
        seed=3,
    )
    remaining = [PAIRS]
    lock = threading.Lock()
    told: list[tuple[int, int, float]] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        with tunehub.Client(two_process_server, max_retry_seconds=30) as client:
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

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    trials = study.trials()
    assert len(trials) == PAIRS
    assert sorted(t.number for t in trials) == list(range(PAIRS))
    assert len({t.id for t in trials}) == PAIRS
    stored = {t.id: t for t in trials}
    for trial_id, number, value in told:
        assert stored[trial_id].number == number
        assert stored[trial_id].state == tunehub.TrialState.COMPLETED
        assert stored[trial_id].values == {"y": value}
    workers = {t.worker for t in trials}
    assert len(workers) == CLIENTS
    counts = httpx.get(f"{two_process_server}/api/v1/studies/{study.id}").json()["trial_counts"]
    assert counts == {"completed": PAIRS}
    setup.close()
