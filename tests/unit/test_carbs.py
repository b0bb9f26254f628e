"""The ``carbs`` policy on in-memory snapshots: coordinates, candidates, success, determinism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from tests.support.snapshots import Snapshot
from tunehub.schema import StudySpec, TrialState
from tunehub.server.policies import carbs
from tunehub.server.policies.base import PolicySpecError
from tunehub.server.policies.carbs_space import Scale, SearchSpace
from tunehub.server.policies.registry import check_policy
from tunehub.server.space.params import check_params

SPACE: dict[str, Any] = {
    "width": {"type": "int", "low": 8, "high": 512, "log": True},
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "layers": {"type": "int", "low": 1, "high": 6},
    "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    "slope": {"type": "float", "low": -2.0, "high": 2.0, "condition": {"act": ["relu"]}},
}


NUMERIC = {k: v for k, v in SPACE.items() if k not in ("act", "slope")}
"""The space without its categorical: a plain GP fits in a fraction of a mixed one's time,
for the tests about the search rather than the space."""


def spec(space: dict[str, Any] = SPACE, **options: Any) -> dict[str, Any]:
    return {
        "space": space,
        "objectives": [{"name": "loss", "direction": "minimize"}],
        "policy": {"name": "carbs", "options": {"initial_trials": 4, "candidates": 128, **options}},
        "seed": 3,
    }


def scaled(params: dict[str, Any]) -> tuple[float, float]:
    """A scaling problem: bigger is better but costs more; the best lr falls with width."""
    width = params["width"]
    best_lr = 0.1 * (64 / width) ** 0.5
    loss = 2.0 + 8.0 / width**0.5 + 0.3 * math.log(params["lr"] / best_lr) ** 2
    loss += 0.2 * params["dropout"] + 0.05 * abs(params["layers"] - 3)
    return loss, width * params["layers"] / 8.0


def run(snapshot: Snapshot, trials: int, fail: Any = None, batch: int = 1) -> None:
    while len(snapshot.trials) < trials:
        for trial in snapshot.ask(batch):
            if fail is not None and fail(trial.params):
                snapshot.end(trial, TrialState.FAILED)
                continue
            loss, cost = scaled(dict(trial.params))
            snapshot.tell(trial, {"loss": loss}, cost=cost)


def test_search_coordinates_round_trip_and_pick_the_scale() -> None:
    search = SearchSpace(StudySpec.model_validate(spec()).space)
    assert search.scales == {
        "width": Scale.LOG,
        "lr": Scale.LOG,
        "dropout": Scale.LOGIT,
        "layers": Scale.LINEAR,
        "slope": Scale.LINEAR,
    }
    rng = np.random.default_rng(0)
    for _ in range(200):
        act = str(rng.choice(["relu", "tanh", "gelu"]))
        params: dict[str, Any] = {
            "width": int(rng.integers(8, 513)),
            "lr": float(10 ** rng.uniform(-4, 0)),
            "dropout": float(rng.uniform(0.001, 0.5)),
            "layers": int(rng.integers(1, 7)),
            "act": act,
        }
        if act == "relu":
            params["slope"] = float(rng.uniform(-2, 2))
        back = search.from_search(search.to_search(params), {"act": act})
        assert back.keys() == params.keys()
        for name, value in params.items():
            assert type(back[name]) is type(value)
            assert back[name] == (value if isinstance(value, str) else pytest.approx(value))
    # A step of ln 2 doubles a log parameter; far steps are clipped into the bounds.
    z = search.to_search({"width": 32, "lr": 0.01, "dropout": 0.1, "layers": 3})
    z[0] += math.log(2)
    assert search.from_search(z, {"act": "tanh"})["width"] == 64
    far = search.from_search(np.full(search.dims, 1e6), {"act": "relu"})
    assert far == {
        "width": 512,
        "lr": 1.0,
        "dropout": 0.5,
        "layers": 6,
        "act": "relu",
        "slope": 2.0,
    }


def test_candidates_stay_in_bounds_and_near_the_front() -> None:
    snapshot = Snapshot(spec(center={"width": 16, "lr": 0.01, "layers": 2}))
    run(snapshot, 18)
    first = snapshot.trials[0].params
    assert first["width"] == 16 and first["lr"] == pytest.approx(0.01) and first["layers"] == 2
    searched = [t for t in snapshot.trials if t.meta and t.meta["carbs"] == "search"]
    assert len(searched) >= 10
    search = SearchSpace(snapshot.spec.space)
    for trial in searched:
        assert check_params(snapshot.spec.space, dict(trial.params)) == trial.params
        center = snapshot.trials[trial.meta["center"]]  # type: ignore[index]
        assert center.number < trial.number and center.state == TrialState.COMPLETED
        step = np.nan_to_num(search.to_search(trial.params) - search.to_search(center.params))
        radius = trial.meta["radius"]  # type: ignore[index]
        assert np.linalg.norm(step) < 6 * radius * math.sqrt(search.dims)
    # Search finds cheap-and-good points: the front gets better at the cheap end.
    cheap = [scaled(dict(t.params)) for t in snapshot.trials if t.cost and t.cost <= 16]
    initial = [scaled(dict(t.params))[0] for t in snapshot.trials[:4]]
    assert min(loss for loss, _ in cheap) < min(initial)


def test_same_seed_and_history_give_the_same_suggestions() -> None:
    one, two = Snapshot(spec(NUMERIC)), Snapshot(spec(NUMERIC))
    run(one, 8)
    run(two, 8)
    assert [t.params for t in one.trials] == [t.params for t in two.trials]
    assert [t.params for t in one.ask(2)] == [t.params for t in two.ask(2)]


def success_at(search: Any, trials: list[Any]) -> Any:
    x = carbs._inputs(search.model_space, [t.params for t in trials])
    return carbs._predict(search.success, x)[0]


def test_a_failed_trial_lowers_the_success_model_near_it() -> None:
    snapshot = Snapshot(spec(NUMERIC))
    run(snapshot, 16, fail=lambda p: p["lr"] > 0.05)
    failed = [t for t in snapshot.trials if t.state == TrialState.FAILED]
    done = [t for t in snapshot.trials if t.state == TrialState.COMPLETED]
    assert failed and done
    options = carbs.CarbsOptions.model_validate(snapshot.spec.policy.options)
    view = snapshot.view()
    search = carbs._Search(
        view,
        options,
        SearchSpace(snapshot.spec.space),
        done,
        -1.0,
        0.5,
        np.random.default_rng(0),
    )
    with torch.no_grad():
        at_failed = success_at(search, failed)
        at_done = success_at(search, done)
    assert np.median(at_failed) < 0.5 < np.median(at_done)
    # And later suggestions avoid the failing region more often than not.
    later = snapshot.ask(6)
    assert sum(t.params["lr"] <= 0.05 for t in later) >= 4


def test_a_batch_is_spread_and_the_cost_ceiling_holds() -> None:
    snapshot = Snapshot({**spec(NUMERIC), "cost": {"max": 20.0}})
    run(snapshot, 16, batch=4)
    batch = snapshot.ask(4)
    assert len({tuple(sorted(t.params.items())) for t in batch}) == 4
    searched = [t for t in snapshot.trials if t.meta and t.meta["carbs"] == "search"]
    assert searched and all(t.meta["predicted_cost"] <= 20.0 for t in searched)  # type: ignore[index]


def over_reach(reach: float | None, share: float) -> list[bool]:
    """Whether each searched suggestion was predicted to cost more than ``share`` of the
    cost spent before it."""
    snapshot = Snapshot(spec(NUMERIC, reach=reach))
    run(snapshot, 14)
    out = []
    for trial in snapshot.trials:
        if trial.meta and trial.meta["carbs"] == "search":
            spent = sum(t.cost or 0.0 for t in snapshot.trials[: trial.number])
            out.append(trial.meta["predicted_cost"] > share * spent * (1 + 1e-9))
    return out


def test_suggestions_stay_within_the_reach_of_the_spend() -> None:
    free, bound = over_reach(None, 0.05), over_reach(0.05, 0.05)
    assert len(bound) >= 8 and sum(free) >= len(free) // 2
    # Until the spend makes room, no candidate is in reach and the cheapest is taken;
    # from then on every suggestion is.
    first = bound.index(False)
    assert first <= 3 and not any(bound[first:])


def test_the_gain_is_the_area_a_result_adds_to_the_front() -> None:
    # Front (log cost, value maximized): (0, 1), (1, 2), (2, 3); the worst seen is 0.
    front = carbs._Front(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]), (), floor=0.0)
    sure = np.full(4, 1e-12)  # a noiseless prediction: the gain is the area itself
    mean = np.array([2.5, 2.5, 0.5, 4.0])
    log_cost = np.array([0.5, 1.5, -1.0, 2.5])
    gain = front.gain(mean, sure, log_cost, top=3.0)
    # 2.5 at 0.5 lifts [0.5, 1) by 1.5 and [1, 2) by 0.5; at 1.5 only [1.5, 2) by 0.5.
    # 0.5 below the front lifts [-1, 0) over the floor; 4.0 past it lifts [2.5, 3) by 1.
    assert gain == pytest.approx([1.5 * 0.5 + 0.5 * 1.0, 0.5 * 0.5, 0.5 * 1.0, 1.0 * 0.5])
    # A cheap step that gains a sliver is worth less than a dear one that lifts the top.
    assert gain[1] < gain[3]


def test_a_big_study_fits_its_models_on_the_trials_nearest_the_front() -> None:
    snapshot = Snapshot(spec(NUMERIC, max_points=20, initial_trials=2))
    run(snapshot, 34, batch=4)
    last = snapshot.trials[-1].meta or {}
    assert last["carbs"] == "search" and last["fit_points"] == 20
    search = SearchSpace(snapshot.spec.space)
    done = [t for t in snapshot.trials if t.state == TrialState.COMPLETED]
    centre = np.nan_to_num(search.to_search(snapshot.trials[last["center"]].params))
    chosen = carbs._nearest(search, done, centre[None, :], 5)
    distances = [np.linalg.norm(np.nan_to_num(search.to_search(t.params)) - centre) for t in done]
    assert sorted(distances)[:5] == sorted(distances[i] for i in chosen)
    for trial in snapshot.trials:
        assert check_params(snapshot.spec.space, dict(trial.params)) == trial.params


def test_the_radius_grows_on_front_hits_and_shrinks_on_misses() -> None:
    snapshot = Snapshot(spec())
    trials = []
    for i in range(6):
        record = snapshot._add(carbs.Suggestion(params={"width": 8}, meta={"carbs": "search"}))
        snapshot.tell(record, {"loss": 10.0 - i}, cost=1.0 + i * 0)
        trials.append(snapshot.trials[-1])
    # Each result beats the last at the same cost: every one is a front hit.
    assert carbs.adapted_radius(snapshot.trials, "loss", -1.0, 0.5) == 2.0
    for _ in range(carbs.LOSS_STREAK):
        record = snapshot._add(carbs.Suggestion(params={"width": 8}, meta={"carbs": "search"}))
        snapshot.end(record, TrialState.FAILED)
    assert carbs.adapted_radius(snapshot.trials, "loss", -1.0, 0.5) == 1.0


def test_bad_specs_name_the_field() -> None:
    two = {**spec(), "objectives": [{"name": "a"}, {"name": "b"}]}
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(two))
    assert error.value.field == "objectives"
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(spec(center={"depth": 3})))
    assert error.value.field == "policy.options.center.depth"
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(spec(center={"width": 4096})))
    assert error.value.field == "policy.options.center.width" and "512" in str(error.value)
