"""Policies on snapshots: determinism, bounds, coverage."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

import tunehub
from tunehub.schema import Decision, PolicySpec, StudySpec, TrialState
from tunehub.server.policies.base import PolicySpecError, ReportRecord, StudyView, TrialRecord
from tunehub.server.policies.registry import (
    POLICY_NAMES,
    build_policy,
    parse_options,
    policy_class,
)
from tunehub.server.space.params import check_params

SPACE = {
    "x": tunehub.Float(-5, 10),
    "lr": tunehub.Float(1e-5, 1, log=True),
    "n": tunehub.Int(1, 16),
    "kind": tunehub.Categorical(["a", "b", "c"]),
    "k": tunehub.Int(1, 3, condition={"kind": ["a"]}),
}


def view(policy: str, next_number: int, seed: int = 7) -> StudyView:
    spec = StudySpec(
        space=SPACE,  # type: ignore[arg-type]
        objectives=[{"name": "loss"}],  # type: ignore[list-item]
        policy=PolicySpec(name=policy),
        seed=seed,
    )

    def no_trials(_: Collection[TrialState] | None) -> tuple[TrialRecord, ...]:
        raise AssertionError("this policy should not read trials")

    return StudyView(
        study_id=1,
        spec=spec,
        next_number=next_number,
        load_trials=no_trials,
        load_reports=lambda _: (),
    )


def suggest(policy: str, next_number: int, count: int, seed: int = 7) -> list[dict[str, object]]:
    v = view(policy, next_number, seed)
    return [dict(s.params) for s in build_policy(v.spec.policy).suggest(v, count)]


def test_every_registered_policy_loads_under_its_name() -> None:
    assert {"random", "sobol", "gp", "asha", "hyperband", "dehb", "carbs"} <= set(POLICY_NAMES)
    for name in POLICY_NAMES:
        assert policy_class(name).name == name


def test_unknown_policy_and_option_name_the_field() -> None:
    try:
        parse_options(PolicySpec(name="nope"))
    except PolicySpecError as error:
        assert error.field == "policy.name" and "random" in str(error)
    else:
        raise AssertionError("unknown policy accepted")
    try:
        parse_options(PolicySpec(name="sobol", options={"scramble": "maybe"}))
    except PolicySpecError as error:
        assert error.field == "policy.options.scramble"
    else:
        raise AssertionError("bad option accepted")


def test_deterministic_and_batch_equals_singles() -> None:
    for policy in ("random", "sobol"):
        batch = suggest(policy, 10, 5)
        assert batch == suggest(policy, 10, 5)
        assert batch == [suggest(policy, 10 + i, 1)[0] for i in range(5)]
        assert batch != suggest(policy, 10, 5, seed=8)


def test_suggestions_fit_the_space() -> None:
    for policy in ("random", "sobol"):
        for params in suggest(policy, 0, 64):
            assert check_params(SPACE, params) == params  # type: ignore[arg-type]


def test_sobol_covers_the_cube_more_evenly_than_random() -> None:
    def worst_gap(points: list[dict[str, object]]) -> float:
        xs = np.sort([float(p["x"]) for p in points])  # type: ignore[arg-type]
        return float(np.max(np.diff(np.concatenate([[-5.0], xs, [10.0]]))))

    assert worst_gap(suggest("sobol", 0, 64)) < worst_gap(suggest("random", 0, 64))


def _curve_view(
    curves: dict[int, list[float]], *, running: int, options: dict[str, object]
) -> tuple[StudyView, TrialRecord]:
    """Completed trials with ``curves`` (values per step) and one running trial."""
    spec = StudySpec(
        space={"x": tunehub.Float(0, 1)},  # type: ignore[dict-item]
        objectives=[{"name": "loss"}],  # type: ignore[list-item]
        policy=PolicySpec(name="random", options=options),
        seed=1,
    )

    def record(trial_id: int, state: TrialState) -> TrialRecord:
        return TrialRecord(
            id=trial_id,
            number=trial_id,
            state=state,
            params={"x": 0.5},
            budget=None,
            instance=None,
            parent_id=None,
            values=None,
            metrics=None,
            cost=None,
            meta=None,
        )

    completed = tuple(record(i, TrialState.COMPLETED) for i in curves if i != running)

    def load_trials(states: Collection[TrialState] | None) -> tuple[TrialRecord, ...]:
        assert states == frozenset({TrialState.COMPLETED})
        return completed

    def load_reports(trial_id: int) -> tuple[ReportRecord, ...]:
        return tuple(
            ReportRecord(trial_id=trial_id, step=s, values={"loss": v})
            for s, v in enumerate(curves[trial_id])
        )

    v = StudyView(
        study_id=1,
        spec=spec,
        next_number=len(curves),
        load_trials=load_trials,
        load_reports=load_reports,
    )
    return v, record(running, TrialState.RUNNING)


def test_median_rule_stops_a_curve_worse_than_the_median_of_completed_ones() -> None:
    base = 1_000 * 1_000  # trial ids unique to this test (the rule keeps curves by id)
    curves = {base + i: [1.0 - 0.1 * i, 0.9 - 0.1 * i, 0.8 - 0.1 * i] for i in range(5)}
    options = {"stopping": {"rule": "median", "min_trials": 5}}

    curves[base + 10] = [2.0, 1.9]  # worse than every completed curve: stopped
    v, running = _curve_view(curves, running=base + 10, options=options)
    policy = build_policy(v.spec.policy)
    report = ReportRecord(trial_id=running.id, step=1, values={"loss": 1.9})
    assert policy.decide(v, running, report) == Decision.STOP

    curves[base + 11] = [0.2, 0.1]  # better than the median: continues
    v, running = _curve_view(curves, running=base + 11, options=options)
    report = ReportRecord(trial_id=running.id, step=1, values={"loss": 0.1})
    assert policy.decide(v, running, report) == Decision.CONTINUE

    # Too few completed trials, or still warming up: never stopped.
    for opts in (
        {"stopping": {"rule": "median", "min_trials": 7}},
        {"stopping": {"rule": "median", "warmup_steps": 2}},
        {},
    ):
        v, running = _curve_view(curves, running=base + 10, options=opts)
        report = ReportRecord(trial_id=running.id, step=1, values={"loss": 1.9})
        assert build_policy(v.spec.policy).decide(v, running, report) == Decision.CONTINUE
