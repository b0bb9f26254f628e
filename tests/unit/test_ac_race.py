"""``ac-race`` and the PAR arithmetic on in-memory snapshots."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.support.snapshots import Snapshot
from tunehub.schema import StudySpec, TellRequest, TrialState
from tunehub.server.policies.base import PolicySpecError, Suggestion
from tunehub.server.policies.configurations import config_key, configurations, penalized_timeout
from tunehub.server.policies.registry import check_policy

TRAIN = [f"i{k}" for k in range(8)]


def spec(cutoff: float | None = 10.0, **options: Any) -> dict[str, Any]:
    return {
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "solver": {"type": "categorical", "choices": ["cg", "gmres"]},
        },
        "objectives": [{"name": "runtime", "direction": "minimize"}],
        "instances": {"train": TRAIN, "test": ["t0"]},
        "cutoff": cutoff,
        "policy": {"name": "ac-race", "options": options},
        "seed": 4,
    }


def runtime(params: Any, instance: str) -> float:
    """Fast near x = 0.2 with cg; instance k scales the time by 1 + k/4."""
    scale = 1 + int(instance[1:]) / 4
    base = 0.5 + 20 * (float(params["x"]) - 0.2) ** 2
    return scale * base * (1.0 if params["solver"] == "cg" else 1.6)


def play(snapshot: Snapshot, trials: int, batch: int = 1) -> None:
    """Ask and run trials; a run longer than its cutoff is told as a timeout."""
    while len(snapshot.trials) < trials:
        for trial in snapshot.ask(batch):
            seconds = runtime(trial.params, str(trial.instance))
            limit = trial.cutoff if trial.cutoff is not None else snapshot.spec.cutoff
            if limit is not None and seconds > limit:
                snapshot.timeout(trial)
            else:
                snapshot.tell(trial, {"runtime": seconds})


def test_par10_and_capped_timeouts() -> None:
    study = StudySpec.model_validate(spec(cutoff=30.0))
    assert penalized_timeout(study, None) == 300.0  # PAR10 at the study's cutoff
    assert penalized_timeout(study, 2.5) == 25.0  # a capped run: ten times its own cutoff
    par1 = StudySpec.model_validate({**spec(), "instances": {"train": TRAIN, "par": 1}})
    assert penalized_timeout(par1, None) == 10.0
    kept = StudySpec.model_validate({**spec(), "instances": {"train": TRAIN, "par": None}})
    assert penalized_timeout(kept, None) is None
    quality = StudySpec.model_validate(
        {**spec(), "objectives": [{"name": "acc", "direction": "maximize"}]}
    )
    assert penalized_timeout(quality, None) is None
    assert penalized_timeout(StudySpec.model_validate(spec(cutoff=None)), None) is None
    with pytest.raises(ValueError, match="timed_out applies to completed"):
        TellRequest(state=TrialState.FAILED, timed_out=True)


def test_a_challenger_is_capped_at_the_incumbents_time_and_dropped_when_cut_off() -> None:
    snapshot = Snapshot(spec(challengers_per_instance=1))
    good = {"x": 0.2, "solver": "cg"}
    for instance, seconds in (("i3", 1.0), ("i5", 2.0)):
        trial = snapshot.add(Suggestion(params=good, instance=instance))
        snapshot.tell(trial, {"runtime": seconds})
    slow = {"x": 0.9, "solver": "gmres"}
    first = snapshot.add(Suggestion(params=slow, instance="i5"))
    snapshot.tell(first, {"runtime": 1.5})  # better than the incumbent's 2.0 there
    # Its next batch is the incumbent's other instance, capped at 1.2 x the incumbent's
    # time on both (3.6 s) less its own 1.5 s.
    (run,) = snapshot.ask()
    assert run.params == slow and run.instance == "i3" and run.meta["ac"] == "race"
    assert run.cutoff == pytest.approx(1.2 * 3.0 - 1.5)
    snapshot.timeout(run)
    assert snapshot.trials[-1].values == {"runtime": pytest.approx(10 * 2.1)}
    # Cut off: its mean is now far worse, so it never runs again.
    later = snapshot.ask(6)
    assert all(t.params != slow for t in later)


def test_racing_drops_dominated_challengers_and_keeps_the_best() -> None:
    snapshot = Snapshot(spec())
    play(snapshot, 120, batch=2)
    configs = configurations(snapshot.view())
    best = min(configs.values(), key=lambda c: (-len(c.costs), sum(c.costs.values())))
    assert len(best.costs) >= 4  # the incumbent climbed over several instances
    assert best.params["solver"] == "cg" and abs(float(best.params["x"]) - 0.2) < 0.15
    others = [c for c in configs.values() if c is not best]
    # A dominated challenger is dropped early: most never pass their first batches.
    assert sum(len(c.costs) <= 2 for c in others) >= 0.8 * len(others)
    assert all(len(c.costs) <= len(best.costs) for c in others)
    # Every run is on a train instance, and no configuration runs one instance twice.
    runs = [(config_key(t.params), t.instance) for t in snapshot.trials]
    assert all(i in TRAIN for _, i in runs) and len(runs) == len(set(runs))


def test_the_same_seed_and_history_give_the_same_runs() -> None:
    one, two = Snapshot(spec()), Snapshot(spec())
    play(one, 30, batch=3)
    play(two, 30, batch=3)
    assert [(t.params, t.instance, t.cutoff) for t in one.trials] == [
        (t.params, t.instance, t.cutoff) for t in two.trials
    ]


def test_runs_that_gave_no_result_are_not_a_race() -> None:
    snapshot = Snapshot(spec())
    (first,) = snapshot.ask()
    snapshot.end(first, TrialState.STOPPED)  # stopped by hand: nothing to judge it by
    (second,) = snapshot.ask()
    assert second.meta["ac"] == "new" and second.instance == first.instance


def test_a_quality_objective_races_without_capping() -> None:
    quality = {**spec(), "objectives": [{"name": "acc", "direction": "maximize"}]}
    snapshot = Snapshot(quality)
    while len(snapshot.trials) < 40:
        for trial in snapshot.ask(2):
            assert trial.cutoff is None
            snapshot.tell(trial, {"acc": -runtime(trial.params, str(trial.instance))})
    configs = configurations(snapshot.view())
    best = min(configs.values(), key=lambda c: (-len(c.costs), sum(c.costs.values())))
    assert math.isfinite(sum(best.costs.values())) and len(best.costs) >= 2


def test_bad_specs_name_the_field() -> None:
    without = {k: v for k, v in spec().items() if k != "instances"}
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(without))
    assert error.value.field == "instances"
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(spec(slack=0.5)))
    assert error.value.field == "policy.options.slack"
