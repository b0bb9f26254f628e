"""``rising-bandit`` on in-memory snapshots: arms, their searchers and elimination."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.snapshots import Snapshot
from tunehub.schema import StudySpec
from tunehub.server.policies.base import PolicySpecError
from tunehub.server.policies.registry import check_policy
from tunehub.server.space.params import check_params

SPACE: dict[str, Any] = {
    "model": {"type": "categorical", "choices": ["tree", "linear", "knn"]},
    "depth": {"type": "int", "low": 1, "high": 12, "condition": {"model": ["tree"]}},
    "leaf": {
        "type": "float",
        "low": 0.0,
        "high": 1.0,
        "condition": {"model": ["tree"], "depth": [6, 7, 8, 9, 10, 11, 12]},
    },
    "alpha": {
        "type": "float",
        "low": 1e-4,
        "high": 10.0,
        "log": True,
        "condition": {"model": ["linear"]},
    },
    "k": {"type": "int", "low": 1, "high": 50, "condition": {"model": ["knn"]}},
    "scale": {"type": "categorical", "choices": [True, False]},
}


def spec(**options: Any) -> dict[str, Any]:
    return {
        "space": SPACE,
        "objectives": [{"name": "accuracy", "direction": "maximize"}],
        "policy": {"name": "rising-bandit", "options": {"searcher": "random", **options}},
        "seed": 5,
    }


def accuracy(params: Any) -> float:
    """Trees climb towards 0.95 with depth; linear sits near 0.6; knn near 0.8."""
    if params["model"] == "tree":
        return 0.95 - 0.04 * abs(params["depth"] - 9)
    if params["model"] == "linear":
        return 0.60
    return 0.80 - 0.004 * abs(params["k"] - 10)


def test_a_clearly_worse_arm_is_eliminated_and_the_rest_share_the_pulls() -> None:
    snapshot = Snapshot(spec(window=3, horizon=40))
    snapshot.run(lambda p: {"accuracy": accuracy(p)}, 60)
    arms = [t.params["model"] for t in snapshot.trials]
    assert arms[:3] == ["tree", "linear", "knn"]  # round robin while nothing is known
    later = Counter(arms[30:])
    assert later["linear"] == 0  # flat and far below: gone for good
    assert later["tree"] >= 15
    for trial in snapshot.trials:  # each arm's searcher gives valid, arm-only parameters
        assert check_params(snapshot.spec.space, dict(trial.params)) == trial.params
        assert trial.meta["arm"] == trial.params["model"]  # type: ignore[index]


def test_a_rising_arm_is_kept_while_its_slope_could_catch_up() -> None:
    def rising(params: Any) -> dict[str, float]:
        if params["model"] == "linear":  # starts low but improves every time it is tried
            count = sum(1 for t in snapshot.trials if t.params["model"] == "linear")
            return {"accuracy": 0.2 + 0.03 * count}
        return {"accuracy": 0.7}

    snapshot = Snapshot(spec(window=3, horizon=60))
    snapshot.run(rising, 30)
    assert Counter(t.params["model"] for t in snapshot.trials[15:])["linear"] >= 4


def test_a_rising_arm_is_dropped_when_the_trials_left_cannot_lift_it_to_the_best() -> None:
    def slow(params: Any) -> dict[str, float]:
        if params["model"] == "linear":  # rises, but too slowly for the budget left
            count = sum(1 for t in snapshot.trials if t.params["model"] == "linear")
            return {"accuracy": 0.3 + 0.03 * count}
        return {"accuracy": 0.9 if params["model"] == "tree" else 0.85}

    snapshot = Snapshot(spec(window=3, horizon=24))
    snapshot.run(slow, 24)
    # After 12 trials the line reaches 0.39 + 0.03 x 12 left = 0.75 < 0.9: it is gone,
    # though 20 more results of its own would have lifted it past the trees.
    assert Counter(t.params["model"] for t in snapshot.trials[12:])["linear"] == 0


def test_the_gp_searcher_tunes_each_arm_in_its_own_space() -> None:
    snapshot = Snapshot(spec(searcher="gp", window=2, horizon=20))
    snapshot.run(lambda p: {"accuracy": accuracy(p)}, 16)
    trees = [t for t in snapshot.trials if t.params["model"] == "tree"]
    assert len(trees) >= 7 and max(accuracy(t.params) for t in trees) >= 0.91


def test_the_arm_must_be_named_when_it_is_not_clear() -> None:
    two = {
        **SPACE,
        "solver": {"type": "categorical", "choices": ["a", "b"]},
        "tol": {"type": "float", "low": 0.1, "high": 1.0, "condition": {"solver": ["a"]}},
    }
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate({**spec(), "space": two}))
    assert error.value.field == "policy.options.arm" and "model" in str(error.value)
    named = {**spec(arm="model"), "space": two}
    check_policy(StudySpec.model_validate(named))
    with pytest.raises(PolicySpecError) as error:
        check_policy(StudySpec.model_validate(spec(arm="depth")))
    assert error.value.field == "policy.options.arm"
