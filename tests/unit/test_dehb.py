"""DEHB on snapshots: the first bracket, DE operators, selection, asynchrony."""

from __future__ import annotations

import itertools
import math
from typing import Any

from tests.support.snapshots import Snapshot
from tunehub.schema import TrialState
from tunehub.server.policies.base import TrialRecord
from tunehub.server.policies.dehb import DEHBPolicy
from tunehub.server.policies.hyperband import Schedule
from tunehub.server.policies.schedulers import live_trials
from tunehub.server.space.params import check_params

CONDITIONAL = {
    "model": {"type": "categorical", "choices": ["svm", "tree"]},
    "C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True, "condition": {"model": ["svm"]}},
    "depth": {"type": "int", "low": 1, "high": 12, "condition": {"model": ["tree"]}},
    "lr": {"type": "float", "low": 0.0, "high": 1.0},
}


def spec(space: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "space": space,
        "objectives": [{"name": "loss"}],
        "policy": {"name": "dehb", "options": options},
        "fidelity": {"name": "epochs", "min": 1, "max": 27, "eta": 3},
        "seed": 7,
    }


def loss(trial: TrialRecord) -> float:
    params = trial.params
    base = (float(params["lr"]) - 0.3) ** 2
    if params["model"] == "svm":
        base += abs(math.log10(float(params["C"]))) / 10  # type: ignore[arg-type]
    else:
        base += abs(int(params["depth"]) - 6) / 20  # type: ignore[arg-type]
    return base + 1.0 / (trial.budget or 1)


def run(snapshot: Snapshot, n: int) -> None:
    for _ in range(n):
        (trial,) = snapshot.ask()
        snapshot.tell(trial, {"loss": loss(trial)})


def test_first_bracket_is_random_then_successive_halving() -> None:
    snapshot = Snapshot(spec(CONDITIONAL))
    run(snapshot, 27 + 9 + 3 + 1)
    first = snapshot.trials
    assert [t.budget for t in first] == [1] * 27 + [3] * 9 + [9] * 3 + [27]
    assert all((t.meta or {})["origin"] == "random" for t in first[:27])
    for trial in first[27:]:  # promotions, resumable from their parent's checkpoint
        assert trial.meta is not None and trial.meta["origin"] == "promotion"
        parent = next(t for t in first if t.id == trial.parent_id)
        assert parent.params == trial.params and parent.meta is not None
        assert trial.meta["x"] == parent.meta["x"]
    rung0 = sorted(first[:27], key=loss)
    assert {t.parent_id for t in first[27:36]} == {t.id for t in rung0[:9]}


def test_offspring_are_in_bounds_and_valid_in_a_conditional_space() -> None:
    snapshot = Snapshot(spec(CONDITIONAL))
    run(snapshot, 250)
    mutants = [t for t in snapshot.trials if (t.meta or {}).get("origin") == "mutation"]
    assert len(mutants) > 150
    for trial in snapshot.trials:
        assert check_params(snapshot.spec.space, trial.params) == trial.params
        genome = (trial.meta or {})["x"]
        assert len(genome) == 4 and all(0.0 <= v <= 1.0 for v in genome)
    models = {t.params["model"] for t in mutants}
    assert models == {"svm", "tree"}  # offspring switch branches and stay valid
    assert all(("C" in t.params) == (t.params["model"] == "svm") for t in mutants)


def test_mutation_is_rand_1_over_the_parent_pool() -> None:
    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(4)}
    snapshot = Snapshot(spec(space, crossover_prob=1.0, mutation_factor=0.5))

    def flat(trial: TrialRecord) -> float:
        return sum((float(v) - 0.5) ** 2 for v in trial.params.values()) + 1 / (trial.budget or 1)

    for _ in range(40):  # the first bracket fills every subpopulation
        (trial,) = snapshot.ask()
        snapshot.tell(trial, {"loss": flat(trial)})
    (child,) = snapshot.ask()  # bracket 1 starts on rung 1: DE over that subpopulation
    assert child.meta is not None and child.meta["origin"] == "mutation" and child.budget == 3
    pool = [t.meta["x"] for t in snapshot.trials if t.budget == 3 and t.meta and t.values]
    genome = child.meta["x"]
    matches = [
        (a, b, c)
        for a, b, c in itertools.permutations(pool, 3)
        if all(
            abs(a[i] + 0.5 * (b[i] - c[i]) - genome[i]) < 1e-12
            for i in range(4)
            if 0.0 <= a[i] + 0.5 * (b[i] - c[i]) <= 1.0
        )
    ]
    assert matches, "the offspring is not a + F (b - c) of any three members of rung 1"


def test_selection_keeps_the_better_of_offspring_and_target() -> None:
    snapshot = Snapshot(spec(CONDITIONAL))
    run(snapshot, 40)
    (child,) = snapshot.ask()
    assert child.meta is not None
    rung, slot = 1, child.meta["slot"]
    policy = DEHBPolicy(DEHBPolicy.Options())

    def occupant() -> TrialRecord:
        view = snapshot.view()
        trials = live_trials(view)
        population = policy.prepare(view, Schedule(trials, {}, {}, set()))
        member = population.slots[rung][slot % len(population.slots[rung])]
        assert member is not None
        return member.trial

    target = occupant()
    assert target.id != child.id
    snapshot.tell(child, {"loss": (target.values or {})["loss"] + 1.0})
    assert occupant().id == target.id  # worse: the target stays
    snapshot.trials[child.number] = TrialRecord(
        **{**child.__dict__, "state": TrialState.COMPLETED, "values": {"loss": -1.0}}
    )
    assert occupant().id == child.id  # better: it replaces the target


def test_dehb_never_waits_for_a_bracket() -> None:
    snapshot = Snapshot(spec(CONDITIONAL))
    first = snapshot.ask(27)
    assert {(t.meta or {})["bracket"] for t in first} == {0}
    more = snapshot.ask(5)  # bracket 0 is running: bracket 1 opens at once
    assert {(t.meta or {})["bracket"] for t in more} == {1}
    assert all(t.budget == 3 for t in more)


def test_dehb_is_deterministic_for_the_seed() -> None:
    runs = []
    for _ in range(2):
        snapshot = Snapshot(spec(CONDITIONAL))
        run(snapshot, 80)
        runs.append([(t.params, t.budget, t.parent_id) for t in snapshot.trials])
    assert runs[0] == runs[1]
