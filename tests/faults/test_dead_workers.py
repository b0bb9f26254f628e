"""Workers that die and objectives that keep failing, on a live server: a dead worker's
trial is failed within a second of its grace and asked again with the same
parameters up to ``max_retries``; a study stops handing out trials at
``max_failed_trials`` until the limit is raised."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tunehub
from tests.support.server import live_server

GRACE = 2.0
BEAT = 1.0
SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The default sweep interval (10 s): short graces must be swept sooner on their own.
    path: Path = tmp_path_factory.mktemp("dead") / "dead.db"
    with live_server(f"sqlite:///{path}") as found:
        yield found


def _ask(url: str, study_id: int) -> dict[str, Any]:
    answer = httpx.post(f"{url}/api/v1/studies/{study_id}/ask", json={"worker": "w"})
    assert answer.status_code == 200, answer.text
    trial: dict[str, Any] = answer.json()["trials"][0]
    return trial


def _seconds_until_failed(url: str, trial_id: int, since: float) -> float:
    while time.monotonic() - since < 15:
        if httpx.get(f"{url}/api/v1/trials/{trial_id}").json()["state"] == "failed":
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"trial {trial_id} still running 15 s after its worker died")


def test_a_dead_workers_trial_fails_within_3_s_and_is_asked_again_up_to_max_retries(
    url: str,
) -> None:
    body = {
        "name": "dead-workers",
        "space": SPACE,
        "objectives": [{"name": "loss"}],
        "heartbeat_grace_seconds": GRACE,
        "max_retries": 2,
    }
    study = httpx.post(f"{url}/api/v1/studies", json=body).json()
    first = _ask(url, study["id"])
    for _ in range(3):  # a live worker beats every second and keeps its trial
        time.sleep(BEAT)
        beat = httpx.post(f"{url}/api/v1/trials/{first['id']}/heartbeat")
        assert beat.json()["state"] == "running"
    died = time.monotonic()  # ... then its process is killed: no more beats
    delays = [_seconds_until_failed(url, first["id"], died)]
    parent = first
    for retries in (1, 2):
        retry = _ask(url, study["id"])
        assert retry["params"] == first["params"] and retry["parent_id"] == parent["id"]
        assert retry["retries"] == retries
        died = time.monotonic()  # dies before its first beat
        delays.append(_seconds_until_failed(url, retry["id"], died))
        parent = retry
    fresh = _ask(url, study["id"])  # retries used up: the policy suggests anew
    assert fresh["parent_id"] is None and fresh["retries"] == 0
    assert max(delays) <= GRACE + 1.0, delays
    with tunehub.Client(url) as client:
        late = client.get_study("dead-workers")
        with pytest.raises(tunehub.ConflictError) as refused:
            late.client.request(
                "POST", f"/trials/{first['id']}/tell", json={"values": {"loss": 0.1}}
            )
    assert "heartbeat" in refused.value.detail and refused.value.status == 409
    assert "heartbeat_grace_seconds" in refused.value.detail


def test_a_study_stops_at_max_failed_trials_until_the_limit_is_raised(url: str) -> None:
    with tunehub.Client(url) as client:
        made: dict[str, Any] = {
            "name": "broken-objective",
            "space": {"x": tunehub.Float(0, 1)},
            "max_failed_trials": 3,
        }
        study = client.create_study(**made)
        for _ in range(3):
            study.ask().fail("ZeroDivisionError: the objective is broken")
        with pytest.raises(tunehub.ConflictError) as stopped:
            study.ask()
        assert stopped.value.errors[0]["field"] == "max_failed_trials"
        assert "3 have failed" in stopped.value.detail and "PATCH" in stopped.value.detail
        assert study.refresh().info.trial_counts == {tunehub.TrialState.FAILED: 3}
        study.set_max_failed_trials(5)
        assert study.info.max_failed_trials == 5
        study.ask().tell(0.5)  # goes on
        again = client.create_study(**made)  # the script run again: the same study
        assert again.id == study.id and again.info.max_failed_trials == 5
