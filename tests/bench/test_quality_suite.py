"""The broad suite's problems are what they claim: known optima, shapes, noise, conditions.

Each family is checked against its definition, not against a run of any
optimizer: the optimum is reached where the family says, no sample does
better, and conditional parameters are needed exactly when active.
"""

from __future__ import annotations

import collections
import math
import random
import statistics
from typing import Any

import numpy as np
import pytest

from bench.quality.metrics import best_so_far, hypervolume_so_far
from bench.quality.problem import Problem, recorder
from bench.quality.problems import get_problem, problem_names
from bench.quality.space import is_active, sample
from bench.quality.split import DEVELOPMENT, HELD_OUT, halves
from bench.quality.suite import bbob, constrained, mixed, multiobjective, sklearn_tasks, synthetic
from bench.quality.suite.functions import BotorchFunction, sobol_box, value_range
from bench.quality.trials import Trial
from tests.support.bench import bench_process, run_bench

SAMPLES = 4096


def _suite() -> list[Problem]:
    return [get_problem(n) for n in problem_names()]


def test_the_suite_has_every_family_at_least_sixty_problems_and_an_even_split() -> None:
    problems = _suite()
    assert len(problems) >= 60
    families = collections.Counter(p.family for p in problems)
    assert families["sklearn"] >= 15
    for family in ("synthetic", "bbob", "noisy", "mixed", "constrained", "multi-objective"):
        assert families[family] >= 4, family
    by_family: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for p in problems:
        by_family[p.family][p.half] += 1
    assert set(by_family.pop("classic")) == {DEVELOPMENT}  # tuned on before the split
    for family, count in by_family.items():
        assert abs(count[HELD_OUT] - count[DEVELOPMENT]) <= 1, (family, count)
    assert all(p.budget == 50 for p in problems if p.family != "classic")


def test_the_split_depends_on_names_alone_and_a_new_problem_moves_few() -> None:
    named = [(p.name, p.family) for p in _suite()]
    assert halves(named) == halves(list(reversed(named)))
    grown = halves([*named, ("zz-new", "synthetic")])
    moved = [n for n, half in halves(named).items() if grown[n] != half]
    assert len(moved) <= len([n for n, f in named if f == "synthetic"])


@pytest.mark.parametrize("name", problem_names())
def test_every_problem_evaluates_its_samples_to_finite_outcomes(name: str) -> None:
    problem = get_problem(name)
    rng = random.Random(0)
    for _ in range(2 if problem.family == "sklearn" else 5):
        params = sample(problem.space, rng)
        outcome = problem.evaluate(params)
        expected = set(problem.objectives) | {c.name for c in problem.constraints}
        assert set(outcome) == expected
        assert all(math.isfinite(v) for v in outcome.values()), outcome
        if problem.optimum is not None and problem.feasible(outcome):
            assert outcome[problem.objectives[0]] >= problem.optimum - 1e-9


@pytest.mark.parametrize(("name", "cls", "kwargs"), synthetic.FUNCTIONS)
def test_synthetic_functions_reach_their_optimum_and_no_sample_beats_it(
    name: str, cls: str, kwargs: dict[str, object]
) -> None:
    problem = get_problem(name)
    function = synthetic.function_of(cls, kwargs)
    assert len(problem.space) == function.dim
    values = function.values(sobol_box(function.bounds, SAMPLES))
    assert values.min() >= problem.optimum
    if getattr(function.module, "_optimizers", None):
        at = problem.evaluate({f"x{i}": v for i, v in enumerate(function.optimizer)})["f"]
        assert at == pytest.approx(problem.optimum, abs=1e-3 * max(1.0, value_range(function)))


@pytest.mark.parametrize("instance", bbob.INSTANCES)
def test_bbob_instances_reach_their_optimum_and_no_sample_beats_it(
    instance: tuple[int, int, int],
) -> None:
    problem = get_problem(bbob.name_of(*instance))
    x = bbob.optimizer_of(*instance)
    assert problem.evaluate({f"x{i}": v for i, v in enumerate(x)})["f"] == problem.optimum
    box = sobol_box([(-5.0, 5.0)] * instance[1], SAMPLES)
    values = [problem.evaluate({f"x{i}": v for i, v in enumerate(row)})["f"] for row in box]
    assert min(values) >= problem.optimum


def test_bbob_instances_of_one_function_put_the_optimum_elsewhere() -> None:
    assert bbob.optimizer_of(15, 2, 3) != bbob.optimizer_of(15, 2, 1)
    assert bbob.optimizer_of(21, 5, 1) != bbob.optimizer_of(21, 5, 2)


def test_noise_is_drawn_per_seed_at_the_stated_level_and_scoring_uses_the_noiseless_value() -> None:
    problem = get_problem("noisy-hartmann-3-10pct")
    function = BotorchFunction("Hartmann", (("dim", 3),))
    assert problem.noise_sd == pytest.approx(0.10 * value_range(function))
    params = {"x0": 0.2, "x1": 0.5, "x2": 0.8}
    first = recorder(problem, seed=1)
    draws = [first.evaluate(params)["f"] for _ in range(400)]
    truth = problem.evaluate(params)["f"]
    assert statistics.fmean(draws) == pytest.approx(truth, abs=4 * problem.noise_sd / 20)
    assert statistics.stdev(draws) == pytest.approx(problem.noise_sd, rel=0.15)
    assert all(t.noiseless == {"f": truth} for t in first.trials)
    again = recorder(problem, seed=1)
    assert [again.evaluate(params)["f"] for _ in range(400)] == draws
    assert recorder(problem, seed=2).evaluate(params)["f"] != draws[0]

    lucky = Trial({"x0": 0.0}, {"f": -10.0}, 0.0, {"f": 5.0})
    fair = Trial({"x0": 1.0}, {"f": -1.0}, 0.0, {"f": -3.0})
    assert best_so_far(problem, [fair, lucky]) == [-3.0, 5.0]  # picked by observed, scored true
    assert Trial.from_json(lucky.to_json()) == lucky
    assert "noiseless" not in Trial({}, {"f": 1.0}, 0.0).to_json()


def _mixed_optimum(function: mixed.MixedFunction) -> dict[str, object]:
    params: dict[str, object] = {}
    for c, position in zip(function.coordinates, function.choices[0].anchor):
        span = math.log(c.high / c.low) if c.log else c.high - c.low
        value = math.exp(math.log(c.low) + position * span) if c.log else c.low + position * span
        params[c.name] = round(value) if c.kind.endswith("int") else value
    params.update(kind="a", a_mode="fine", a_width=10**function.width_target)
    params.update(unused_x=0.5, unused_n=7, unused_c="q")
    return params


@pytest.mark.parametrize("layout", mixed.LAYOUTS, ids=lambda layout: layout.name)
def test_mixed_problems_reach_their_optimum_where_choice_a_puts_it(
    layout: mixed.Layout,
) -> None:
    problem = get_problem(layout.name)
    function = problem.evaluate
    assert isinstance(function, mixed.MixedFunction)
    best = _mixed_optimum(function)
    assert function(best)["f"] == pytest.approx(problem.optimum, abs=1e-5)
    rng = random.Random(0)
    values = [function(sample(problem.space, rng))["f"] for _ in range(2000)]
    assert min(values) > problem.optimum
    for dummy, value in (("unused_x", 0.9), ("unused_n", 99), ("unused_c", "s")):
        assert function({**best, dummy: value}) == function(best)
    assert function({**best, "a_mode": "coarse"})["f"] > problem.optimum
    assert function({**best, "a_width": 10 * best["a_width"]})["f"] > problem.optimum  # type: ignore[operator]
    # every other choice places the function differently, and none reaches the optimum
    for choice in function.choices[1:]:
        assert choice.anchor != function.choices[0].anchor
        assert choice.offset > 0


def test_mixed_spaces_hold_log_ranges_of_five_decades_log_integers_and_two_level_conditions() -> (
    None
):
    for layout in mixed.LAYOUTS:
        space = get_problem(layout.name).space
        assert space["a_width"]["condition"] == {"a_mode": ["fine"]}
        assert space["a_mode"]["condition"] == {"kind": ["a"]}
        decades = [
            math.log10(s["high"] / s["low"])
            for s in space.values()
            if s.get("log") and s["type"] == "float"
        ]
        assert max(decades) >= 5
    assert any(c.kind == "logint" for layout in mixed.LAYOUTS for c in layout.coordinates)
    problem = get_problem("mixed-levy-4")
    rng = random.Random(3)
    for _ in range(200):
        params = sample(problem.space, rng)
        assert ("a_mode" in params) == (params["kind"] == "a")
        assert ("a_width" in params) == (params.get("a_mode") == "fine")
        problem.evaluate(params)  # no inactive parameter is needed
    best = _mixed_optimum(problem.evaluate)
    with pytest.raises(KeyError):  # an active parameter is needed
        problem.evaluate({k: v for k, v in best.items() if k != "a_width"})


def test_sklearn_tasks_are_deterministic_bounded_and_use_their_conditions() -> None:
    assert len(sklearn_tasks.TASKS) >= 15
    assert len({m for m, *_ in sklearn_tasks.TASKS}) >= 8
    problem = get_problem("sk-mlp-sgd-breast")
    rng = random.Random(5)
    seen_conditional = set()
    for _ in range(20):
        params = sample(problem.space, rng)
        assert ("power_t" in params) == (params["learning_rate"] == "invscaling")
        seen_conditional.add("power_t" in params)
    assert seen_conditional == {True, False}
    for name in ("sk-svm-breast", "sk-elasticnet-diabetes", "sk-tree-wine"):
        task = get_problem(name)
        params = sample(task.space, random.Random(1))
        first = task.evaluate(params)["error"]
        assert task.evaluate(params)["error"] == first
        assert 0.0 <= first <= sklearn_tasks.WORST
    logistic = get_problem("sk-logistic-iris")
    assert not is_active(logistic.space, "l1_ratio", {"penalty": "l2"})


@pytest.mark.parametrize("task", sklearn_tasks.TASKS, ids=lambda t: f"{t[0]}-{t[1]}")
def test_every_sklearn_model_with_randomness_fixes_its_seed(task: Any) -> None:
    """Same parameters, same score: common random numbers across optimizers and seeds."""
    model, data, build, space = task
    for seed in range(3):
        params = sample(space, random.Random(seed))
        estimator = build(params, data in sklearn_tasks.REGRESSION)
        seeds = {k: v for k, v in estimator.get_params().items() if k.endswith("random_state")}
        assert all(v is not None for v in seeds.values()), (model, seeds)


@pytest.mark.parametrize("cls", list(constrained.BEST_KNOWN))
def test_constrained_problems_hold_their_best_known_point_and_no_feasible_sample_beats_it(
    cls: str,
) -> None:
    problem = get_problem(constrained.NAMES[cls])
    function = BotorchFunction(cls)
    best, x = constrained.BEST_KNOWN[cls]
    assert problem.optimum == best
    assert constrained.feasible_values(function, SAMPLES * 4).min() >= best
    if x is not None:
        outcome = problem.evaluate({f"x{i}": v for i, v in enumerate(x)})
        assert problem.feasible(outcome)
        assert outcome["f"] == pytest.approx(best, rel=1e-9)
    assert problem.penalty is not None and problem.penalty > best


@pytest.mark.parametrize(("name", "cls", "kwargs"), multiobjective.FUNCTIONS)
def test_multi_objective_fronts_stay_below_the_published_maximum_hypervolume(
    name: str, cls: str, kwargs: dict[str, object]
) -> None:
    problem = get_problem(name)
    rng = random.Random(0)
    trials = []
    for _ in range(300):
        params = sample(problem.space, rng)
        trials.append(Trial(params, problem.evaluate(params), 0.0))
    reached = hypervolume_so_far(problem, trials)[-1]
    assert problem.max_hypervolume is not None
    assert 0.0 <= reached < problem.max_hypervolume


def test_points_on_the_zdt1_front_reach_nearly_the_maximum_hypervolume() -> None:
    problem = get_problem("zdt1-4")
    trials = [
        Trial(p, problem.evaluate(p), 0.0)
        for p in ({"x0": float(u), "x1": 0.0, "x2": 0.0, "x3": 0.0} for u in np.linspace(0, 1, 400))
    ]
    assert problem.max_hypervolume is not None
    assert hypervolume_so_far(problem, trials)[-1] == pytest.approx(
        problem.max_hypervolume, rel=1e-3
    )


def test_the_command_lists_the_suite_and_narrows_runs_by_family_and_half() -> None:
    listed = run_bench("quality", "--list").stdout.splitlines()
    rows = [line.split("\t") for line in listed]
    assert [r[0] for r in rows] == problem_names()
    assert all(r[2] == get_problem(r[0]).half for r in rows)
    done = bench_process("quality", "--families", "nonesuch", timeout=120)
    assert done.returncode == 2
    assert "--families: unknown ['nonesuch']" in done.stderr
