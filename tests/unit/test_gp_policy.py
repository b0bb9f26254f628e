"""The ``gp`` policy on in-memory snapshots: determinism, pending points, constraints, fronts."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from tests.support.snapshots import Snapshot
from tunehub.schema import StudySpec, TrialState
from tunehub.server.analysis import pareto
from tunehub.server.policies import gp, gp_model
from tunehub.server.policies.base import PolicySpecError, Suggestion
from tunehub.server.policies.registry import build_policy, check_policy
from tunehub.server.space.encoding import SpaceEncoder
from tunehub.server.space.params import check_params

# Less acquisition search than the defaults: these tests check behaviour, not peak quality.
FAST = {"n_init": 6, "raw_samples": 64, "num_restarts": 2}

SQUARE = {
    "x": {"type": "float", "low": -1.0, "high": 1.0},
    "y": {"type": "float", "low": -1.0, "high": 1.0},
}


def spec(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "space": SQUARE,
        "objectives": [{"name": "f"}],
        "policy": {"name": "gp", "options": FAST},
        "seed": 11,
    }
    body.update(extra)
    return body


def bowl(params: Any) -> dict[str, float]:
    return {"f": (params["x"] - 0.3) ** 2 + (params["y"] + 0.2) ** 2}


def test_first_trials_are_the_centre_and_sobol_then_the_model_takes_over() -> None:
    study = Snapshot(spec())
    study.run(bowl, 8)
    models = [t.meta["model"] if t.meta else None for t in study.trials]
    assert models == ["center"] + ["sobol"] * 5 + ["gp"] * 2
    assert study.trials[0].params == {"x": 0.0, "y": 0.0}
    assert all(t.meta and len(t.meta["hypers"]) > 0 for t in study.trials[6:])


CENTERED_SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "x": {"type": "float", "low": -2.0, "high": 6.0},
    "layers": {"type": "int", "low": 1, "high": 4},
    "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    "momentum": {
        "type": "float",
        "low": 0.0,
        "high": 1.0,
        "condition": {"act": ["tanh"]},
    },
}


def test_a_study_that_recorded_n_init_null_keeps_its_two_trials_per_parameter() -> None:
    # Studies record their options with the defaults filled in; those created while the
    # default was null must go on as they began.
    body = spec(policy={"name": "gp", "options": {**FAST, "n_init": None}})
    study = Snapshot({**body, "space": CENTERED_SPACE})
    study.run(lambda p: {"f": p["x"] ** 2}, 8)
    models = [t.meta["model"] if t.meta else None for t in study.trials]
    assert models == ["center"] + ["sobol"] * 7  # 2 x 5 parameters: 10, not 5


def test_the_centre_is_trial_0_of_the_sobol_design_it_replaces() -> None:
    study = Snapshot({**spec(), "space": CENTERED_SPACE})
    body = {**spec(), "space": CENTERED_SPACE}
    body["policy"] = {"name": "gp", "options": {**FAST, "init_center": False}}
    plain = Snapshot(body)
    study.run(lambda p: {"f": p["x"] ** 2}, 3)
    plain.run(lambda p: {"f": p["x"] ** 2}, 3)
    first = study.trials[0]
    assert first.meta is not None and first.meta["model"] == "center"
    assert first.params["lr"] == pytest.approx(1e-3)  # the geometric midpoint
    # The midpoint of a linear range; the middle choice, whose conditional child is active.
    assert (first.params["x"], first.params["act"]) == (2.0, "tanh")
    assert first.params["layers"] in (2, 3) and "momentum" in first.params
    assert [t.params for t in study.trials[1:]] == [t.params for t in plain.trials[1:]]
    assert plain.trials[0].meta is not None and plain.trials[0].meta["model"] == "sobol"


def test_an_enqueued_first_trial_takes_the_centres_place() -> None:
    study = Snapshot(spec())
    study.add(Suggestion(params={"x": 0.9, "y": -0.9}, meta={"enqueued": True}))
    policy = build_policy(study.spec.policy)
    fresh = Snapshot(spec())
    assert policy.suggest(fresh.view(), 1)[0].params == {"x": 0.0, "y": 0.0}
    # Trial 0 is the enqueued one: the next suggestion is Sobol' point 1, not the centre.
    suggestion = policy.suggest(study.view(), 1)[0]
    assert suggestion.meta["model"] == "sobol" and suggestion.meta["sobol_index"] == 1


def test_same_seed_and_results_give_the_same_suggestions() -> None:
    one, two = Snapshot(spec()), Snapshot(spec())
    one.run(bowl, 10)
    gp._fit_cache.clear()  # the second study fits from scratch, as a restarted server would
    two.run(bowl, 10)
    assert [t.params for t in one.trials] == [t.params for t in two.trials]
    other = Snapshot(spec(seed=12))
    other.run(bowl, 10)
    assert [t.params for t in other.trials] != [t.params for t in one.trials]


def test_it_converges_on_a_smooth_bowl() -> None:
    study = Snapshot(spec())
    study.run(bowl, 20)
    best = min(t.values["f"] for t in study.trials if t.values)
    sobol_best = min(t.values["f"] for t in study.trials[:6] if t.values)
    assert best < 0.01 < sobol_best


def test_a_running_trial_changes_the_next_suggestion() -> None:
    study = Snapshot(spec())
    study.run(bowl, 10)
    policy = build_policy(study.spec.policy)
    alone = policy.suggest(study.view(), 1)[0].params
    study.ask()  # now running: a pending point
    beside = policy.suggest(study.view(), 1)[0].params
    assert beside != alone
    assert (
        math.dist(
            (beside["x"], beside["y"]), (study.trials[-1].params["x"], study.trials[-1].params["y"])
        )
        > 1e-3
    )


def test_a_batch_is_distinct_and_in_the_space() -> None:
    study = Snapshot(spec())
    study.run(bowl, 10)
    batch = study.ask(4)
    points = {(t.params["x"], t.params["y"]) for t in batch}
    assert len(points) == 4
    for t in batch:
        check_params(study.spec.space, dict(t.params))


def test_constraints_keep_it_off_the_infeasible_optimum() -> None:
    # The unconstrained minimum (0, 0) violates x >= 0.5; the feasible one is (0.5, 0), f = 0.25.
    def objective(params: Any) -> dict[str, float]:
        return {"f": params["x"] ** 2 + params["y"] ** 2, "c": 0.5 - params["x"]}

    study = Snapshot(spec(constraints=[{"name": "c", "op": "<=", "bound": 0.0}]))
    study.run(objective, 22)
    feasible = [t for t in study.trials if t.metrics and t.metrics["c"] <= 0]
    best = min(t.values["f"] for t in feasible if t.values)
    assert best < 0.3
    late = study.trials[12:]
    assert sum(1 for t in late if t.metrics and t.metrics["c"] <= 0.05) >= 0.7 * len(late)


@pytest.mark.parametrize("noisy_hvi_points", [100, 8], ids=["noisy-ehvi", "plug-in-ehvi"])
def test_several_objectives_spread_along_the_front(noisy_hvi_points: int) -> None:
    # f1 = x^2, f2 = (x - 1)^2 (+ y^2 on both): the front is y = 0, x in [0, 1].
    def objective(params: Any) -> dict[str, float]:
        x, y = params["x"], params["y"]
        return {"f1": x * x + y * y, "f2": (x - 1) ** 2 + y * y}

    options = {**FAST, "noisy_hvi_points": noisy_hvi_points}
    body = spec(
        objectives=[{"name": "f1"}, {"name": "f2"}],
        policy={"name": "gp", "options": options},
    )
    study = Snapshot(body)
    study.run(objective, 18)
    values = np.array([[t.values["f1"], t.values["f2"]] for t in study.trials if t.values])
    model_hv = pareto.hypervolume(values[pareto.pareto_mask(values)], [1.5, 1.5])
    sobol = Snapshot({**body, "policy": {"name": "sobol"}})
    sobol.run(objective, 18)
    base = np.array([[t.values["f1"], t.values["f2"]] for t in sobol.trials if t.values])
    assert model_hv > pareto.hypervolume(base[pareto.pareto_mask(base)], [1.5, 1.5])


def test_pareto_mask_on_a_known_front() -> None:
    points = np.array(
        [[1.0, 5.0], [2.0, 3.0], [3.0, 4.0], [4.0, 1.0], [2.0, 3.0], [5.0, 5.0], [0.5, 6.0]]
    )
    assert pareto.pareto_mask(points).tolist() == [True, True, False, True, True, False, True]
    front = points[pareto.pareto_mask(points)]
    # Staircase area below (6, 7): unions of the dominated boxes, by hand.
    assert pareto.hypervolume(front, [6.0, 7.0]) == pytest.approx(
        0.5 * 1 + 1.0 * 2 + 2.0 * 4 + 2.0 * 6, rel=1e-9
    )


def test_mixed_and_conditional_spaces_give_valid_configurations() -> None:
    space = {
        "kind": {"type": "categorical", "choices": ["linear", "tree"]},
        "alpha": {
            "type": "float",
            "low": 1e-4,
            "high": 1.0,
            "log": True,
            "condition": {"kind": ["linear"]},
        },
        "depth": {"type": "int", "low": 1, "high": 12, "condition": {"kind": ["tree"]}},
        "width": {"type": "int", "low": 1, "high": 1000, "log": True},
    }

    def objective(params: Any) -> dict[str, float]:
        base = math.log(params["width"]) / 7
        if params["kind"] == "linear":
            return {"f": 1.0 + base + abs(math.log10(params["alpha"]) + 2)}
        return {"f": base + abs(params["depth"] - 7) / 5}

    study = Snapshot({**spec(), "space": space})
    study.run(objective, 16)
    for t in study.trials:
        check_params(study.spec.space, dict(t.params))
        assert ("alpha" in t.params) == (t.params["kind"] == "linear")
        assert ("depth" in t.params) == (t.params["kind"] == "tree")
    late = [t for t in study.trials[8:]]
    assert sum(t.params["kind"] == "tree" for t in late) >= len(late) // 2


def test_hyperparameters_are_reused_until_the_data_grows() -> None:
    body = spec(policy={"name": "gp", "options": {**FAST, "refit_growth": 0.5}})
    study = Snapshot(body)
    study.run(bowl, 12)
    fits = [t.meta["fit_n"] for t in study.trials if t.meta and t.meta["model"] == "gp"]
    # Refits at 6 completed trials, then once 9 (6 + 50%) are in: 6, 6, 6, 9, 9, 9.
    assert fits == [6, 6, 6, 9, 9, 9]


def test_hyperparameters_stored_for_another_model_are_refit_not_used() -> None:
    body = spec(policy={"name": "gp", "options": {**FAST, "refit_growth": 1.0}})
    study = Snapshot(body)
    study.run(bowl, 7)
    last = study.trials[-1]
    assert last.meta and last.meta["model"] == "gp"
    # As an older server's kernel would have left them: other names, and no refit due.
    study.trials[-1] = replace(last, meta={**last.meta, "hypers": {"kernel.raw_scale": [0.0]}})
    (nxt,) = study.ask()
    assert nxt.meta and set(nxt.meta["hypers"]) == set(last.meta["hypers"])
    assert nxt.meta["hypers"] != {"kernel.raw_scale": [0.0]}


def test_half_rank_warp_keeps_the_better_half_and_order_and_tames_outliers() -> None:
    values = np.array([-300.0, -40.0, -5.0, -2.0, -1.0, -0.6, -0.5, -0.41, -0.4])
    warped = gp_model.half_rank_warp(values)
    assert np.all(np.diff(warped) > 0)  # strictly monotone: the same order, the same best
    better = values >= np.median(values)
    np.testing.assert_array_equal(warped[better], values[better])
    # The worse half now spreads like the better half instead of over 300 units.
    assert warped.max() - warped.min() < 5.0
    assert np.array_equal(gp_model.half_rank_warp(np.ones(4)), np.ones(4))


def test_slack_warp_keeps_every_trials_feasibility_and_compresses_the_far_slacks() -> None:
    slacks = np.array([-2.4e7, -3e5, -1.2e4, -50.0, 0.0, 3.0, 800.0, 2.9e4])
    warped = gp_model.slack_warp(slacks)
    assert np.all(np.diff(warped) > 0)  # the same order
    np.testing.assert_array_equal(warped <= 0, slacks <= 0)  # the same feasibility
    assert warped[4] == 0.0
    assert np.ptp(warped) < 20.0  # seven decades of slack in a span a GP can model
    np.testing.assert_array_equal(gp_model.slack_warp(np.zeros(3)), np.zeros(3))


def test_the_model_sees_warped_slacks_and_the_same_feasible_trials() -> None:
    study = Snapshot(spec(constraints=[{"name": "c", "op": "<=", "bound": 0.0}]))
    study.run(lambda p: {"f": p["x"] + p["y"], "c": 1e6 * (0.2 - p["x"]) ** 3}, 8)
    completed = [t for t in study.trials if t.values]
    space = gp_model.ModelSpace(SpaceEncoder(study.spec.space))
    data = gp._training_data(study.spec, space, completed)
    raw = np.array([t.metrics["c"] for t in completed if t.metrics])
    np.testing.assert_array_equal(data.feasible, raw <= 0)
    np.testing.assert_allclose(data.y[:, 1].numpy(), gp_model.slack_warp(raw))


def test_large_studies_use_a_local_model_around_the_incumbent() -> None:
    body = spec(policy={"name": "gp", "options": {**FAST, "n_init": 30, "max_points": 20}})
    study = Snapshot(body)
    study.run(bowl, 31)
    last = study.trials[-1]
    assert last.meta and last.meta.get("local") is True
    # Its neighbourhood: the 20 trials nearest the incumbent, widened a little.
    done = [t for t in study.trials[:-1] if t.values]
    best = min(done, key=lambda t: t.values["f"] if t.values else math.inf)
    nearest = sorted(
        done,
        key=lambda t: math.dist(
            (t.params["x"], t.params["y"]), (best.params["x"], best.params["y"])
        ),
    )[:20]
    for axis in ("x", "y"):
        low = min(t.params[axis] for t in nearest) - 0.05 * 2  # 0.05 cube units = 0.1 here
        high = max(t.params[axis] for t in nearest) + 0.05 * 2
        assert low - 1e-9 <= last.params[axis] <= high + 1e-9


def test_failed_trials_are_ignored_and_all_failed_falls_back_to_sobol() -> None:
    study = Snapshot(spec())
    for _ in range(8):
        (trial,) = study.ask()
        study.trials[trial.number] = trial.__class__(
            **{**trial.__dict__, "state": TrialState.FAILED}
        )
    (nxt,) = study.ask()
    assert nxt.meta and nxt.meta["model"] == "sobol"


def test_ref_point_must_have_one_finite_value_per_objective() -> None:
    body = spec(objectives=[{"name": "f1"}, {"name": "f2"}])
    for bad in ([1.0], [1.0, 2.0, 3.0], [1.0, float("inf")]):
        body["policy"] = {"name": "gp", "options": {"ref_point": bad}}
        with pytest.raises(PolicySpecError) as caught:
            check_policy(StudySpec.model_validate(body))
        assert caught.value.field == "policy.options.ref_point"
    body["policy"] = {"name": "gp", "options": {"ref_point": [1.0, 2.0]}}
    check_policy(StudySpec.model_validate(body))


def test_an_int_parent_gates_its_child_up_to_its_top_value() -> None:
    space = gp_model.ModelSpace(
        SpaceEncoder(
            StudySpec.model_validate(
                {
                    "space": {
                        "n": {"type": "int", "low": 0, "high": 100},
                        "w": {"type": "float", "low": 0.0, "high": 1.0, "condition": {"n": [100]}},
                    },
                    "objectives": [{"name": "f"}],
                }
            ).space
        )
    )
    x = torch.tensor([[1.0, 0.3], [0.0, 0.3]], dtype=torch.double)
    gated = space.gate(x)
    assert gated[0, 1] == 0.3 and gated[1, 1] == gp_model.INACTIVE


def test_the_last_acquisition_restart_starts_at_the_incumbent() -> None:
    study = Snapshot(spec())
    study.run(bowl, 8)
    completed = [t for t in study.trials if t.values]
    space = gp_model.ModelSpace(SpaceEncoder(study.spec.space))
    data = gp._training_data(study.spec, space, completed)
    model = gp_model.build_model(space, data.x, data.y)
    gp_model.fit(model, None, maxiter=50)
    acqf = gp._acquisition(study.spec, gp.GPOptions(), model, data, [], seed=1, count=1)
    incumbent = gp._incumbent(acqf, data, n_objectives=1)
    assert incumbent is not None
    best = min(completed, key=lambda t: t.values["f"] if t.values else math.inf)
    assert torch.allclose(incumbent, gp._canonical(space, best.params))
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double)
    limits = gp._batch_limits(acqf)
    starts = gp._starts_with(acqf, bounds, incumbent, restarts=4, raw_samples=64, limits=limits)
    assert starts.shape == (4, 1, 2)
    assert torch.equal(starts[-1, 0], incumbent)
    assert not any(torch.equal(s[0], incumbent) for s in starts[:-1])


def _constrained_acquisition(feasible_from: float, pending: bool) -> tuple[Any, Any, gp._Data]:
    """Eight trials with ``c = feasible_from - x`` (feasible at x >= feasible_from), a fitted
    model of ``f`` and ``c``, and the acquisition one ask would use."""
    study = Snapshot(spec(constraints=[{"name": "c", "op": "<=", "bound": 0.0}]))
    study.run(lambda p: {"f": (p["x"] - 0.2) ** 2 + p["y"] ** 2, "c": feasible_from - p["x"]}, 8)
    completed = [t for t in study.trials if t.values]
    space = gp_model.ModelSpace(SpaceEncoder(study.spec.space))
    data = gp._training_data(study.spec, space, completed)
    model = gp_model.build_model(space, data.x, data.y)
    gp_model.fit(model, None, maxiter=50)
    model.eval()
    waiting = [data.x[0] * 0.5] if pending else []
    acqf = gp._acquisition(study.spec, gp.GPOptions(), model, data, waiting, seed=1, count=1)
    return acqf, model, data


def test_one_constrained_ask_weighs_analytic_ei_by_each_constraints_probability() -> None:
    acqf, model, data = _constrained_acquisition(feasible_from=-0.2, pending=False)
    assert data.feasible.any() and not data.feasible.all()
    x = torch.tensor([[0.3, 0.6], [0.7, 0.5], [0.9, 0.1]], dtype=torch.double)
    with torch.no_grad():
        posterior = model.posterior(x)
        mean, sigma = posterior.mean, posterior.variance.sqrt()
        best = model.posterior(data.x[torch.as_tensor(data.feasible)]).mean[:, 0].max()
        u = (mean[:, 0] - best) / sigma[:, 0]
        density = torch.exp(-0.5 * u**2) / math.sqrt(2 * math.pi)
        ei = sigma[:, 0] * (u * torch.special.ndtr(u) + density)
        expected = ei.log() + torch.special.log_ndtr(-mean[:, 1] / sigma[:, 1])
        assert torch.allclose(acqf(x[:, None, :]), expected, atol=1e-6)


def test_before_any_feasible_trial_one_ask_seeks_feasibility_alone() -> None:
    acqf, model, data = _constrained_acquisition(feasible_from=1.5, pending=False)
    assert not data.feasible.any()
    x = torch.tensor([[0.3, 0.6], [0.9, 0.1]], dtype=torch.double)
    with torch.no_grad():
        posterior = model.posterior(x)
        expected = torch.special.log_ndtr(-posterior.mean[:, 1] / posterior.variance[:, 1].sqrt())
        assert torch.allclose(acqf(x[:, None, :]), expected, atol=1e-6)


def test_a_constrained_ask_beside_a_running_trial_stays_on_the_noisy_ei() -> None:
    acqf, *_ = _constrained_acquisition(feasible_from=-0.2, pending=True)
    assert isinstance(acqf, gp.qLogNoisyExpectedImprovement)


@pytest.mark.parametrize(
    ("options", "lengthscale"),
    [({"kernel": "botorch"}, "rbf"), ({"output_warp": "none"}, "matern")],
)
def test_the_kernel_and_output_warp_options_change_the_model_and_still_converge(
    options: dict[str, Any], lengthscale: str
) -> None:
    study = Snapshot(spec(policy={"name": "gp", "options": {**FAST, **options}}))
    study.run(bowl, 20)
    hypers = study.trials[-1].meta["hypers"] if study.trials[-1].meta else {}
    assert any("lengthscale" in name for name in hypers)
    kernel_names = [n for n in hypers if "lengthscale" in n]
    assert ("base_kernel" in kernel_names[0]) == (lengthscale == "matern")
    best = min(t.values["f"] for t in study.trials if t.values)
    assert best < 0.01


def test_output_warp_none_models_the_values_as_they_are() -> None:
    study = Snapshot(spec())
    study.run(lambda p: {"f": 1000.0 if p["x"] > 0.8 else bowl(p)["f"]}, 8)
    completed = [t for t in study.trials if t.values]
    space = gp_model.ModelSpace(SpaceEncoder(study.spec.space))
    data = gp._training_data(study.spec, space, completed)
    assert not torch.equal(gp._warped(data).y, data.y)
    assert gp.GPOptions(output_warp="none").output_warp == "none"
    with pytest.raises(ValueError, match="output_warp"):
        gp.GPOptions(output_warp="log")  # type: ignore[arg-type]


GRID = {  # 4 x 2 x 2 = 16 configurations
    "k": {"type": "int", "low": 1, "high": 4},
    "weights": {"type": "categorical", "choices": ["uniform", "distance"]},
    "p": {"type": "int", "low": 1, "high": 2},
}


def plateau(params: Any) -> dict[str, float]:
    """A kNN-like objective: one clear best region, flat elsewhere."""
    return {"f": abs(params["k"] - 3) + 0.1 * (params["weights"] == "uniform") + 0.01 * params["p"]}


def test_no_configuration_is_suggested_twice_until_the_space_is_exhausted() -> None:
    study = Snapshot(spec(space=GRID))
    study.run(plateau, 16)
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == 16  # every configuration once
    study.run(plateau, 1)  # nothing new is left: a repeat, not an error
    assert tuple(sorted(study.trials[-1].params.items())) in set(keys)


def test_a_batch_repeats_neither_the_trials_nor_itself() -> None:
    study = Snapshot(spec(space=GRID))
    study.run(plateau, 8)
    batch = study.ask(count=6)
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == len(keys) == 14
    assert len(batch) == 6


def test_a_repeat_against_a_bound_moves_to_a_new_point_near_it() -> None:
    """Continuous spaces repeat where the optimum sits on the box's corner."""
    corner = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "y": {"type": "float", "low": 0.0, "high": 1.0},
    }
    study = Snapshot(spec(space=corner))
    study.run(lambda p: {"f": p["x"] + p["y"]}, 25)
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == len(keys)
    best = min(t.values["f"] for t in study.trials if t.values)
    assert best < 0.05


def test_a_front_at_one_end_of_the_trade_off_is_extended_along_it() -> None:
    """ZDT1 in two dimensions: f1 = x, f2 = g (1 - sqrt(x / g)), g = 1 + 9 y.

    Its trials found the front's end at x near 0 only; the front runs to x = 1 at y = 0.
    """

    def objective(params: Any) -> dict[str, float]:
        x, y = params["x"], params["y"]
        g = 1 + 9 * y
        return {"f1": x, "f2": g * (1 - math.sqrt(x / g))}

    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "y": {"type": "float", "low": 0.0, "high": 1.0},
    }
    study = Snapshot(spec(space=space, objectives=[{"name": "f1"}, {"name": "f2"}], seed=3))
    spread = [(0.9, 0.3), (0.5, 0.6), (0.3, 0.9), (0.7, 0.4), (0.2, 0.5), (0.1, 0.8)]
    end = [(0.0, 0.0), (0.02, 0.0), (0.04, 0.0), (0.06, 0.01), (0.01, 0.02), (0.05, 0.0)]
    for x, y in spread + end:  # stored trials, past the Sobol' ones
        trial = study.add(Suggestion(params={"x": x, "y": y}))
        study.tell(trial, objective(trial.params))
    values = np.array([[t.values["f1"], t.values["f2"]] for t in study.trials if t.values])
    front = values[pareto.pareto_mask(values)]
    assert front[:, 0].max() <= 0.06 + 1e-9  # the front is the end at x near 0
    batch = study.ask(3)
    assert max(t.params["x"] for t in batch) > 0.15
