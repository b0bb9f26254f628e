"""Multi-fidelity schedulers behind a live server, with four concurrent SDK workers."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import tunehub
from tunehub.schema import TrialOut, TrialState

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
FIDELITY = {"name": "epochs", "min": 1, "max": 9, "eta": 3}


def curve(x: float, epoch: int) -> float:
    """A learning curve: better with more epochs, best for x near 0.3."""
    return (x - 0.3) ** 2 + 1.0 / epoch


def loss_of(trial: TrialOut) -> float:
    assert trial.values is not None
    return trial.values["loss"]


def train(trial: tunehub.Trial) -> float:
    """Resume where the parent stopped, report every epoch, and obey "stop"."""
    assert trial.budget is not None
    parent = trial.parent
    start = int(parent.budget or 0) if parent is not None else 0
    x = float(trial.params["x"])
    value = float("nan")
    for epoch in range(start + 1, int(trial.budget) + 1):
        time.sleep(0.005)
        value = curve(x, epoch)
        if trial.report(epoch, value):
            raise tunehub.TrialPruned()
    return value


def run(client: tunehub.Client, name: str, policy: str, options: dict[str, Any]) -> list[TrialOut]:
    study = client.create_study(
        name=name,
        space=SPACE,
        objectives="loss",
        policy=policy,
        policy_options=options,
        fidelity=FIDELITY,
        seed=11,
    )
    study.optimize(train, n_trials=40, n_workers=4)
    trials = study.trials()
    assert len(trials) == 40
    assert not [t for t in trials if not t.state.finished]
    return trials


def test_asha_promotions_name_their_parents(shared_server_url: str) -> None:
    trials = run(tunehub.Client(shared_server_url), "asha-promotion", "asha", {})
    by_id = {t.id: t for t in trials}
    assert all(t.state == TrialState.COMPLETED for t in trials)
    promoted = [t for t in trials if t.budget != 1]
    assert {t.budget for t in promoted} == {3, 9}
    for trial in promoted:
        parent = by_id[trial.parent_id] if trial.parent_id is not None else None
        assert parent is not None, f"trial {trial.number} at budget {trial.budget} has no parent"
        assert parent.params == trial.params
        assert parent.budget == {3: 1, 9: 3}[int(trial.budget or 0)]
        assert parent.state == TrialState.COMPLETED
        assert trial.values is not None and parent.values is not None
        assert trial.values["loss"] < parent.values["loss"]  # it trained further
    assert len({t.parent_id for t in promoted}) == len(promoted)  # each promoted once
    for trial in promoted:  # the parent was in the top third of its rung as the ask saw it
        parent = by_id[trial.parent_id or 0]
        rung = [t for t in trials if t.budget == parent.budget and t.finished_at is not None]
        # An ask stamps its trials before it waits for the study lock, so what it saw
        # is known only to within that wait: allow a second either way.
        created = trial.created_at.timestamp()
        finished = {t.id: t.finished_at.timestamp() for t in rung if t.finished_at}
        surely_seen = [t for t in rung if finished[t.id] < created - 1.0]
        maybe_seen = [t for t in rung if finished[t.id] <= created + 1.0]
        better = [t for t in surely_seen if loss_of(t) < loss_of(parent)]
        assert len(better) < len(maybe_seen) // 3, f"trial {trial.number} promoted a poor parent"


def test_asha_stopping_records_stopped_trials_as_pruned(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    trials = run(client, "asha-stopping", "asha", {"type": "stopping"})
    assert all(t.budget == 9 and t.parent_id is None for t in trials)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    completed = [t for t in trials if t.state == TrialState.COMPLETED]
    assert pruned and completed
    for trial in pruned:
        answer = httpx.get(f"{shared_server_url}/api/v1/trials/{trial.id}/reports")
        steps = [r["step"] for r in answer.json()]
        assert steps[-1] in (1, 3), f"trial {trial.number} was stopped off a rung: {steps}"
    best = min(completed, key=lambda t: (t.values or {})["loss"])
    assert abs(float(best.params["x"]) - 0.3) < 0.2


def test_hyperband_fills_brackets_with_parents(shared_server_url: str) -> None:
    trials = run(tunehub.Client(shared_server_url), "hyperband", "hyperband", {})
    by_id = {t.id: t for t in trials}
    assert {t.budget for t in trials} == {1, 3, 9}
    for trial in trials:
        meta = trial.policy_meta or {}
        assert set(meta) == {"bracket", "rung", "first_rung", "n"}
        if trial.parent_id is not None:
            parent = by_id[trial.parent_id]
            assert parent.policy_meta is not None
            assert parent.policy_meta["bracket"] == meta["bracket"]
            assert parent.policy_meta["rung"] == meta["rung"] - 1


def test_other_policies_give_every_trial_the_max_budget(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)
    study = client.create_study(
        name="random-with-fidelity", space=SPACE, fidelity=FIDELITY, policy="random", seed=1
    )
    trial = study.ask()
    assert trial.budget == 9 and trial.parent is None
    trial.tell(0.5)


@pytest.mark.parametrize(
    ("fidelity", "field", "words"),
    [
        ({"name": "epochs", "min": 9, "max": 1}, "fidelity", "greater than min"),
        ({"name": "epochs", "min": 0, "max": 9}, "fidelity.min", "greater than or equal to"),
        ({"name": "x", "min": 1, "max": 9}, "fidelity", "also a parameter"),
        (None, "fidelity", "needs a fidelity"),
    ],
)
def test_bad_fidelities_name_the_field(
    shared_server_url: str, fidelity: dict[str, Any] | None, field: str, words: str
) -> None:
    body: dict[str, Any] = {
        "name": "bad-fidelity",
        "space": SPACE,
        "policy": {"name": "asha"},
        "objectives": [{"name": "loss"}],
    }
    if fidelity is not None:
        body["fidelity"] = fidelity
    answer = httpx.post(f"{shared_server_url}/api/v1/studies", json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert words in problem["detail"]
    assert any(e.get("field", "").startswith(field) for e in problem["errors"]), problem


def test_raising_the_max_budget_while_a_study_runs(shared_server_url: str) -> None:
    client = tunehub.Client(shared_server_url)

    def create() -> tunehub.Study:
        return client.create_study(
            name="deepening", space=SPACE, policy="asha", fidelity=FIDELITY, seed=4
        )

    study = create()
    tops: list[TrialOut] = []
    while len(tops) < 3:  # until the top rung can promote its best
        study.optimize(train, n_trials=12, n_workers=4)
        tops = [t for t in study.trials() if t.budget == 9 and t.state == TrialState.COMPLETED]
        assert len(study.trials()) < 300
    assert study.raise_max_budget(27).info.fidelity is not None
    assert study.info.fidelity is not None and study.info.fidelity.max == 27
    trial = study.ask()
    assert trial.budget == 27
    best = min(tops, key=lambda t: (t.values or {})["loss"])
    assert trial.parent is not None and trial.parent.id == best.id
    trial.tell(train(trial))
    assert create().id == study.id  # the creating script, run again, finds the study
    study.raise_max_budget(27)  # the same raise again is a no-op
    url = f"{shared_server_url}/api/v1/studies/{study.id}"
    lower = httpx.patch(url, json={"fidelity": {"max": 3}})
    assert lower.status_code == 422 and "can only be raised" in lower.json()["detail"]
    assert lower.json()["errors"][0]["field"] == "fidelity.max"
    plain = client.create_study(name="no-fidelity", space=SPACE, seed=1)
    none = httpx.patch(
        f"{shared_server_url}/api/v1/studies/{plain.id}", json={"fidelity": {"max": 3}}
    )
    assert none.status_code == 422 and "no fidelity" in none.json()["detail"]
    missing = httpx.patch(
        f"{shared_server_url}/api/v1/studies/999999", json={"fidelity": {"max": 3}}
    )
    assert missing.status_code == 404


def test_dehb_with_four_workers(shared_server_url: str) -> None:
    trials = run(tunehub.Client(shared_server_url), "dehb", "dehb", {})
    by_id = {t.id: t for t in trials}
    origins = {(t.policy_meta or {}).get("origin") for t in trials}
    assert {"random", "promotion", "mutation"} <= origins
    for trial in trials:
        meta = trial.policy_meta or {}
        assert 0.0 <= float(trial.params["x"]) <= 1.0
        if meta["origin"] == "promotion":  # the first bracket: resumable children
            parent = by_id[trial.parent_id or 0]
            assert parent.params == trial.params and (parent.budget or 0) < (trial.budget or 0)
        else:
            assert trial.parent_id is None
