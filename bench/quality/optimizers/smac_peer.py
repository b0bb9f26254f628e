"""SMAC3's hyperparameter-optimization facade (random forest, log EI) through ask and tell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.space import Space
from bench.quality.trials import Trial


class SMAC(Optimizer):
    """SMAC has no outcome constraints: infeasible trials cost the problem's penalty
    plus their violation. Several objectives go through SMAC's ParEGO."""

    name = "smac"
    requires = ("smac", "ConfigSpace")

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        from smac import HyperparameterOptimizationFacade as Facade
        from smac import Scenario
        from smac.multi_objective.parego import ParEGO
        from smac.runhistory.dataclasses import TrialValue

        scenario = Scenario(
            configspace(problem.space, seed),
            name=f"{problem.name}-s{seed}",
            output_directory=context.workdir / "smac",
            deterministic=True,
            objectives=list(problem.objectives) if problem.multi_objective else "cost",
            n_trials=budget,
            seed=seed,
        )
        smac = Facade(
            scenario,
            _told_by_the_loop,
            intensifier=Facade.get_intensifier(scenario, max_config_calls=1),
            multi_objective_algorithm=ParEGO(scenario) if problem.multi_objective else None,
            overwrite=True,
            logging_level=40,
        )
        recorder = problem_recorder(problem, seed)
        for _ in range(budget):
            info = smac.ask()
            outcome = recorder.evaluate(dict(info.config))
            cost: float | list[float] = (
                [outcome[n] for n in problem.objectives]
                if problem.multi_objective
                else problem.penalized(outcome)
            )
            smac.tell(info, TrialValue(cost=cost))
        return recorder.trials


def _told_by_the_loop(config: Any, seed: int = 0) -> float:
    """SMAC insists on a target function; ``optimize`` evaluates and tells instead."""
    raise RuntimeError("evaluated by the ask-and-tell loop")


def configspace(space: Space, seed: int) -> Any:
    """A ConfigSpace with the same ranges, log scales and conditions."""
    from ConfigSpace import (
        AndConjunction,
        Categorical,
        ConfigurationSpace,
        Float,
        InCondition,
        Integer,
    )

    cs = ConfigurationSpace(seed=seed)
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec["type"] == "categorical":
            params[name] = Categorical(name, list(spec["choices"]))
        elif spec["type"] == "int":
            params[name] = Integer(name, (spec["low"], spec["high"]), log=spec.get("log", False))
        else:
            params[name] = Float(name, (spec["low"], spec["high"]), log=spec.get("log", False))
    cs.add(list(params.values()))
    for name, spec in space.items():
        condition: Mapping[str, list[Any]] = spec.get("condition") or {}
        parts = [InCondition(params[name], params[p], list(v)) for p, v in condition.items()]
        if len(parts) == 1:
            cs.add(parts[0])
        elif parts:
            cs.add(AndConjunction(*parts))
    return cs
