"""Hyperband and ASHA on snapshots: rung arithmetic, promotions, stopping."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.support.snapshots import Snapshot
from tunehub.schema import Decision, Fidelity, StudySpec, TrialState
from tunehub.server.policies.base import PolicySpecError, Suggestion, TrialRecord
from tunehub.server.policies.registry import check_policy
from tunehub.server.policies.rungs import hyperband_bracket, rung_budgets

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "int", "low": 1, "high": 9}}
FIDELITY = {"name": "epochs", "min": 1, "max": 81, "eta": 3}


def spec(policy: str, **options: Any) -> dict[str, Any]:
    return {
        "space": SPACE,
        "objectives": [{"name": "loss"}],
        "policy": {"name": policy, "options": options},
        "fidelity": FIDELITY,
        "seed": 3,
    }


def loss(trial: TrialRecord) -> float:
    """Lower for small x, and lower with more budget, so rankings are known."""
    assert trial.budget is not None
    return float(trial.params["x"]) + 1.0 / trial.budget


# Li et al. (2018), Table 1: eta = 3, R = 81; (n_i, r_i) per bracket s = 4 .. 0.
PAPER_TABLE = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def test_rungs_and_brackets_match_the_hyperband_paper() -> None:
    budgets = rung_budgets(Fidelity(**FIDELITY))
    assert budgets == (1, 3, 9, 27, 81)
    for index in range(10):  # brackets cycle s = 4 .. 0
        bracket = hyperband_bracket(index, len(budgets), 3)
        assert bracket.s == 4 - index % 5
        got = [(n, budgets[bracket.first_rung + i]) for i, n in enumerate(bracket.sizes)]
        assert got == PAPER_TABLE[bracket.s]


def test_rungs_for_ranges_that_are_not_powers_of_eta() -> None:
    assert rung_budgets(Fidelity(name="e", min=1, max=100, eta=3)) == (1, 3, 9, 27, 100)
    fractions = rung_budgets(Fidelity(name="f", min=0.01, max=1, eta=3))
    assert fractions == pytest.approx((0.01, 0.03, 0.09, 0.27, 1.0))
    assert rung_budgets(Fidelity(name="e", min=1, max=2, eta=3)) == (1, 2)
    assert rung_budgets(Fidelity(name="e", min=2, max=50, eta=2.5)) == (2, 5, 12, 31, 50)


def test_a_whole_hyperband_run_follows_the_table_one_trial_at_a_time() -> None:
    snapshot = Snapshot(spec("hyperband"))
    per_rung: dict[tuple[int, float], list[TrialRecord]] = {}
    for _ in range(206):  # one full cycle: the sum of the table's n_i
        (trial,) = snapshot.ask()
        assert trial.meta is not None
        per_rung.setdefault((trial.meta["bracket"], trial.budget or 0), []).append(trial)
        snapshot.tell(trial, {"loss": loss(trial)})
    for bracket, rows in enumerate(PAPER_TABLE[s] for s in (4, 3, 2, 1, 0)):
        for i, (n, budget) in enumerate(rows):
            trials = per_rung[(bracket, budget)]
            assert len(trials) == n
            if i == 0:
                assert all(t.parent_id is None for t in trials)
                continue
            # the promoted are exactly the best of the rung below, each once
            below = sorted(per_rung[(bracket, rows[i - 1][1])], key=loss)
            assert sorted(t.parent_id for t in trials) == sorted(t.id for t in below[:n])
            parents = {t.id: t for t in below}
            for t in trials:
                assert t.params == parents[t.parent_id].params
    next_cycle = snapshot.ask()[0].meta
    assert next_cycle == {"bracket": 5, "rung": 0, "first_rung": 0, "n": 81}


def test_hyperband_opens_the_next_bracket_while_one_waits_on_running_trials() -> None:
    snapshot = Snapshot(spec("hyperband"))
    first = snapshot.ask(81)
    assert {t.meta["bracket"] for t in first if t.meta} == {0}
    for trial in first[:-1]:
        snapshot.tell(trial, {"loss": loss(trial)})
    waiting = snapshot.ask(3)  # bracket 0's rung 0 still has one running trial
    assert [(t.meta or {}).get("bracket") for t in waiting] == [1, 1, 1]
    assert all(t.budget == 3 for t in waiting)
    snapshot.end(first[-1], TrialState.FAILED)  # a lost slot: the rung is done without it
    (promoted,) = snapshot.ask()
    assert promoted.meta == {"bracket": 0, "rung": 1, "first_rung": 0, "n": 81}
    best = min((t for t in snapshot.trials if t.budget == 1 and t.values), key=loss)
    assert promoted.parent_id == best.id


def test_a_retry_takes_its_failed_trials_place_in_the_rung() -> None:
    snapshot = Snapshot(spec("hyperband"))
    trials = snapshot.ask(81)
    for trial in trials[1:]:
        snapshot.tell(trial, {"loss": loss(trial)})
    snapshot.end(trials[0], TrialState.FAILED)
    retry = snapshot.add(
        Suggestion(
            params=trials[0].params,
            budget=trials[0].budget,
            parent_id=trials[0].id,
            meta={**(trials[0].meta or {}), "retry_of": trials[0].number},
        )
    )
    waiting = snapshot.ask()[0].meta  # rung 0 waits on the retry
    assert waiting == {"bracket": 1, "rung": 1, "first_rung": 1, "n": 34}
    snapshot.tell(retry, {"loss": -1.0})  # the retry turns out best
    (promoted,) = snapshot.ask()
    assert promoted.parent_id == retry.id and promoted.budget == 3


def test_asha_promotes_the_top_third_as_results_arrive_in_any_order() -> None:
    snapshot = Snapshot(spec("asha"))
    bottom = snapshot.ask(9)
    assert all(t.budget == 1 and t.parent_id is None for t in bottom)
    order = list(range(9))
    random.Random(0).shuffle(order)
    promoted: list[int] = []
    for done, index in enumerate(order, start=1):
        snapshot.tell(bottom[index], {"loss": loss(bottom[index])})
        (trial,) = snapshot.ask()
        completed = [t for t in snapshot.trials if t.budget == 1 and t.values]
        top = sorted(completed, key=loss)[: done // 3]
        expected = [t.id for t in top if t.id not in promoted]
        if expected:  # the best not-yet-promoted of the current top third goes up
            assert trial.parent_id == expected[0] and trial.budget == 3
            assert trial.params == next(t.params for t in bottom if t.id == expected[0])
            promoted.append(expected[0])
        else:
            assert trial.parent_id is None and trial.budget == 1
            snapshot.end(trial, TrialState.STOPPED)  # keep rung 0 at the nine above
    assert len(promoted) == 3
    assert set(promoted) == {t.id for t in sorted(bottom, key=loss)[:3]}


def test_asha_promotes_from_the_highest_rung_first() -> None:
    snapshot = Snapshot(spec("asha"))
    for trial in snapshot.ask(9):
        snapshot.tell(trial, {"loss": loss(trial)})
    middle = snapshot.ask(3)
    assert all(t.budget == 3 for t in middle)
    for trial in middle:
        snapshot.tell(trial, {"loss": loss(trial)})
    (top,) = snapshot.ask()
    assert top.budget == 9 and top.parent_id == min(middle, key=loss).id


def test_asha_stopping_type_stops_reports_outside_the_top_third() -> None:
    snapshot = Snapshot(spec("asha", type="stopping"))
    trials = snapshot.ask(4)
    assert all(t.budget == 81 and t.meta == {"rung": 4} for t in trials)
    # steps 1, 3, 9 and 27 are the rungs below the max
    assert snapshot.report(trials[0], 1, {"loss": 0.5}) == Decision.CONTINUE
    assert snapshot.report(trials[1], 1, {"loss": 0.6}) == Decision.CONTINUE  # < eta reached
    assert snapshot.report(trials[2], 1, {"loss": 0.9}) == Decision.STOP  # 3rd of 3
    assert snapshot.report(trials[3], 1, {"loss": 0.1}) == Decision.CONTINUE  # best of 4
    assert snapshot.report(trials[0], 2, {"loss": 0.45}) == Decision.CONTINUE  # no rung at 2
    # a report that jumps past a rung is judged at the rung it reached, once
    assert snapshot.report(trials[1], 4, {"loss": 0.3}) == Decision.CONTINUE  # alone at 3
    assert snapshot.report(trials[3], 3, {"loss": 0.2}) == Decision.CONTINUE  # 2 at rung 3
    assert snapshot.report(trials[0], 3, {"loss": 0.44}) == Decision.STOP  # worst of 3
    assert snapshot.report(trials[1], 5, {"loss": 0.9}) == Decision.CONTINUE  # judged at 4


def test_maximized_objectives_rank_the_other_way() -> None:
    body = spec("asha")
    body["objectives"] = [{"name": "acc", "direction": "maximize"}]
    snapshot = Snapshot(body)
    trials = snapshot.ask(3)
    for trial in trials:
        snapshot.tell(trial, {"acc": float(trial.params["x"])})
    (promoted,) = snapshot.ask()
    assert promoted.parent_id == max(trials, key=lambda t: float(t.params["x"])).id


def test_schedulers_are_deterministic_for_the_seed() -> None:
    runs = []
    for _ in range(2):
        snapshot = Snapshot(spec("hyperband"))
        for _ in range(40):
            (trial,) = snapshot.ask()
            snapshot.tell(trial, {"loss": loss(trial)})
        runs.append([(t.params, t.budget, t.parent_id) for t in snapshot.trials])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("policy", ["hyperband", "asha"])
def test_schedulers_need_a_fidelity_and_one_objective(policy: str) -> None:
    body = spec(policy)
    del body["fidelity"]
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(body))
    assert error.value.field == "fidelity" and '"fidelity"' in str(error.value)
    body = spec(policy)
    body["objectives"] = [{"name": "a"}, {"name": "b"}]
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(body))
    assert error.value.field == "objectives"


def test_a_bad_fidelity_names_the_fix() -> None:
    body = spec("asha")
    body["fidelity"] = {"name": "epochs", "min": 10, "max": 5}
    with pytest.raises(ValueError, match="must be greater than min"):
        StudySpec.model_validate(body)
    body["fidelity"] = {"name": "x", "min": 1, "max": 5}
    with pytest.raises(ValueError, match="also a parameter"):
        StudySpec.model_validate(body)


def deepen(snapshot: Snapshot, new_max: float) -> None:
    """What ``PATCH /studies/{id}`` does to the spec the policy sees."""
    body = snapshot.spec.model_dump(mode="json")
    body["fidelity"]["max"] = new_max
    snapshot.spec = StudySpec.model_validate(body)


def test_raising_the_max_extends_hyperband_brackets_from_their_results() -> None:
    body = spec("hyperband")
    body["fidelity"] = {"name": "epochs", "min": 1, "max": 9, "eta": 3}
    snapshot = Snapshot(body)
    for _ in range(22):  # one full cycle for max 9: (9, 3, 1) + (5, 1) + (3,)
        (trial,) = snapshot.ask()
        snapshot.tell(trial, {"loss": loss(trial)})
    before = list(snapshot.trials)
    assert max(t.budget or 0 for t in before) == 9
    deepen(snapshot, 27)
    extended = snapshot.ask(3)
    # each bracket goes on with its best trial at 9, trained further rather than again
    for bracket, trial in enumerate(extended):
        assert trial.budget == 27 and trial.meta is not None
        assert trial.meta["bracket"] == bracket
        tops = [t for t in before if t.meta and t.meta["bracket"] == bracket and t.budget == 9]
        assert trial.parent_id == min(tops, key=loss).id
    assert snapshot.trials[: len(before)] == before  # nothing earlier changed
    (fresh,) = snapshot.ask()  # then a new bracket, laid out for the new max
    assert fresh.parent_id is None and fresh.meta is not None and fresh.meta["bracket"] == 3


def test_raising_the_max_lets_asha_promote_its_top_rung() -> None:
    body = spec("asha")
    body["fidelity"] = {"name": "epochs", "min": 1, "max": 9, "eta": 3}
    snapshot = Snapshot(body)
    for _ in range(40):
        (trial,) = snapshot.ask()
        snapshot.tell(trial, {"loss": loss(trial)})
    at_max = [t for t in snapshot.trials if t.budget == 9]
    assert len(at_max) >= 3
    deepen(snapshot, 27)
    (promoted,) = snapshot.ask()
    assert promoted.budget == 27 and promoted.parent_id == min(at_max, key=loss).id


MIXED = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "k": {"type": "categorical", "choices": ["a", "b"]},
    "z": {"type": "float", "low": 0.0, "high": 1.0, "condition": {"k": ["b"]}},
}


def mixed_loss(trial: TrialRecord) -> float:
    p = trial.params
    penalty = 0.0 if p["k"] == "a" else 0.2 + (float(p["z"]) - 0.5) ** 2
    return (float(p["x"]) - 0.2) ** 2 + penalty + 1.0 / (trial.budget or 1)


def run_asha(searcher: str, n: int) -> Snapshot:
    body = spec("asha", searcher=searcher)
    body["space"] = MIXED
    body["fidelity"] = {"name": "epochs", "min": 1, "max": 27, "eta": 3}
    snapshot = Snapshot(body)
    for _ in range(n):
        (trial,) = snapshot.ask()
        snapshot.tell(trial, {"loss": mixed_loss(trial)})
    return snapshot


def test_the_gp_searcher_models_every_rung_and_finds_the_good_region() -> None:
    random_run, model_run = run_asha("random", 45), run_asha("gp", 45)
    # too few results for a model: the random stream of each number
    assert [t.params for t in model_run.trials[:5]] == [t.params for t in random_run.trials[:5]]

    def new_configs(snapshot: Snapshot) -> list[TrialRecord]:
        return [t for t in snapshot.trials[25:] if t.parent_id is None]

    def distance(t: TrialRecord) -> float:
        return abs(float(t.params["x"]) - 0.2) + (0.5 if t.params["k"] == "b" else 0.0)

    ours = sorted(distance(t) for t in new_configs(model_run))
    theirs = sorted(distance(t) for t in new_configs(random_run))
    assert ours and theirs
    assert ours[len(ours) // 2] < 0.05 < theirs[len(theirs) // 2]
    again = run_asha("gp", 45)
    assert [t.params for t in again.trials] == [t.params for t in model_run.trials]
