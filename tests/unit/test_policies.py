"""Policies on snapshots: determinism, bounds, coverage."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

import tunehub
from tunehub.schema import PolicySpec, StudySpec, TrialState
from tunehub.server.policies.base import StudyView, TrialRecord
from tunehub.server.policies.registry import POLICIES, PolicySpecError, build_policy, parse_options
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


def test_registry_has_random_and_sobol() -> None:
    assert {"random", "sobol"} <= set(POLICIES)


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
