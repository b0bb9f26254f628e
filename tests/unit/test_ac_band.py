"""``ac-band`` on in-memory snapshots: races, stopped losers, stages and iterations."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.support.snapshots import Snapshot
from tunehub.schema import StudySpec, TrialState
from tunehub.server.policies.ac_band import race_of
from tunehub.server.policies.base import PolicySpecError
from tunehub.server.policies.registry import check_policy

TRAIN = [f"i{k}" for k in range(6)]


def spec(**options: Any) -> dict[str, Any]:
    return {
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "solver": {"type": "categorical", "choices": ["cg", "gmres"]},
        },
        "objectives": [{"name": "runtime", "direction": "minimize"}],
        "instances": {"train": TRAIN},
        "cutoff": 10.0,
        "policy": {"name": "ac-band", "options": {"group_size": 4, "pool_size": 8, **options}},
        "seed": 2,
    }


def runtime(params: Any, instance: str) -> float:
    scale = 1 + int(instance[1:]) / 4
    return (
        scale
        * (0.3 + 6 * (float(params["x"]) - 0.7) ** 2)
        * (1.0 if params["solver"] == "gmres" else 1.5)
    )


def race_round(snapshot: Snapshot) -> int:
    """Start every open run, then let each race's fastest member finish first."""
    started = snapshot.ask(100)
    by_race: dict[Any, list[Any]] = defaultdict(list)
    for trial in started:
        found = race_of(trial)
        assert found is not None
        by_race[found[0]].append(trial)
    for members in by_race.values():
        timed = sorted(members, key=lambda t: runtime(t.params, str(t.instance)))
        winner = timed[0]
        snapshot.tell(winner, {"runtime": runtime(winner.params, str(winner.instance))})
        for loser in timed[1:]:  # stopped by the winner's result, never told
            assert snapshot.trials[loser.number].state == TrialState.STOPPED
    return len(started)


def test_a_group_races_on_one_instance_and_the_winner_stops_the_rest() -> None:
    snapshot = Snapshot(spec())
    first = snapshot.ask(100)
    assert len(first) == 8  # the pool, in two groups of four
    groups: dict[Any, list[Any]] = defaultdict(list)
    for trial in first:
        groups[race_of(trial)[0]].append(trial)  # type: ignore[index]
    assert sorted(len(g) for g in groups.values()) == [4, 4]
    for members in groups.values():
        assert len({t.instance for t in members}) == 1
    # Nothing more to run while both races are under way.
    assert snapshot.ask(4) == []
    members = next(iter(groups.values()))
    winner = members[2]
    snapshot.tell(winner, {"runtime": 1.0})
    states = [snapshot.trials[t.number].state for t in members]
    assert states.count(TrialState.STOPPED) == 3 and states[2] == TrialState.COMPLETED
    # The other race is untouched.
    other = next(g for g in groups.values() if g is not members)
    assert all(snapshot.trials[t.number].state == TrialState.RUNNING for t in other)


def test_a_late_starter_races_against_the_finish_time() -> None:
    snapshot = Snapshot(spec())
    (early,) = snapshot.ask(1)
    snapshot.tell(early, {"runtime": 2.5})
    late = snapshot.ask(3)
    assert late and all(t.cutoff == 2.5 for t in late)


def test_stages_and_iterations_carry_the_winner_forward() -> None:
    snapshot = Snapshot(spec())
    for _ in range(12):
        race_round(snapshot)
    iterations = {race_of(t)[0].iteration for t in snapshot.trials}  # type: ignore[index]
    assert max(iterations) >= 3
    # Each iteration ends in one winner that opens the next pool as member 0.
    for it in range(1, max(iterations)):
        opening = [
            t
            for t in snapshot.trials
            if race_of(t)[0].iteration == it and race_of(t)[1] == 0  # type: ignore[index]
        ]
        assert opening
        if it == max(iterations) - 1:
            incumbent = opening[0].params
            assert incumbent["solver"] == "gmres" and abs(float(incumbent["x"]) - 0.7) < 0.1
    stopped = sum(t.state == TrialState.STOPPED for t in snapshot.trials)
    assert stopped >= len(snapshot.trials) // 2


def test_the_same_seed_gives_the_same_races() -> None:
    one, two = Snapshot(spec()), Snapshot(spec())
    for snapshot in (one, two):
        for _ in range(5):
            race_round(snapshot)
    assert [(t.params, t.instance, t.meta) for t in one.trials] == [
        (t.params, t.instance, t.meta) for t in two.trials
    ]


def test_bad_specs_name_the_field() -> None:
    without = {k: v for k, v in spec().items() if k != "instances"}
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(without))
    assert error.value.field == "instances"
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(spec(group_size=1)))
    assert error.value.field == "policy.options.group_size"
