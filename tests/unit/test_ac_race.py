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
    # Every run is on a train instance, and no configuration runs one instance twice
    # unless the run before was cut off at its cap.
    seen: set[tuple[str, str | None]] = set()
    for t in snapshot.trials:
        run = (config_key(t.params), t.instance)
        assert t.instance in TRAIN
        assert run not in seen, run
        if not t.timed_out:
            seen.add(run)


def test_a_run_cut_off_by_a_specialist_incumbent_races_again_under_a_slower_one() -> None:
    snapshot = Snapshot(spec(challengers_per_instance=100))

    def run(params: dict[str, Any], instance: str, seconds: float) -> None:
        snapshot.tell(
            snapshot.add(Suggestion(params=params, instance=instance)), {"runtime": seconds}
        )

    specialist = {"x": 0.9, "solver": "cg"}  # very fast on i0, slow on i1
    run(specialist, "i0", 0.1)
    run(specialist, "i1", 5.0)
    steady = {"x": 0.2, "solver": "gmres"}
    cut = snapshot.add(Suggestion(params=steady, instance="i0", cutoff=0.12))
    snapshot.timeout(cut)  # runtime above 0.12 s: worse than 0.1 s, as far as we know
    assert configurations(snapshot.view())[config_key(steady)].censored == {"i0": 0.12}
    assert all(t.params != steady for t in snapshot.ask(4))  # dropped by the specialist
    for trial in snapshot.trials[-4:]:
        snapshot.end(trial, TrialState.STOPPED)
    # A new incumbent, run on more instances, takes 0.5 s on i0: the cut-off run proved
    # nothing against it, so the steady configuration races again from i0 or i1.
    third = {"x": 0.5, "solver": "cg"}
    for instance, seconds in (("i0", 0.5), ("i1", 1.0), ("i2", 1.0)):
        run(third, instance, seconds)
    (again,) = snapshot.ask()
    assert again.params == steady and again.instance in ("i0", "i1", "i2")
    times = {"i0": 0.5, "i1": 1.0, "i2": 1.0}
    # The cap counts the cut-off run at its own cap: 1.2 x the incumbent's time on
    # every instance the two share, less the 0.12 s already known to be spent.
    shared = {"i0", again.instance}
    others = 0.0 if again.instance == "i0" else 0.12
    assert again.cutoff == pytest.approx(1.2 * sum(times[i] for i in shared) - others)
    assert again.cutoff > 0.12
    rerun = Snapshot(snapshot.spec.model_dump(mode="json"))
    rerun.trials = list(snapshot.trials)
    snapshot.tell(again, {"runtime": 0.3})
    steady_now = configurations(snapshot.view())[config_key(steady)]
    assert steady_now.costs == {again.instance: 0.3}
    # Cut off again instead: now it is over slack x the incumbent's time, and done.
    rerun.timeout(again)
    assert all(t.params != steady for t in rerun.ask(6))


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
