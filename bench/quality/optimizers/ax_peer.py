"""Ax's Client with its default generation strategy (Sobol, then BoTorch)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.space import Space
from bench.quality.trials import Trial


class AxClient(Optimizer):
    """Outcome constraints are Ax's own; no reference point is given for several
    objectives (Ax infers one), as no other optimizer is given one either."""

    name = "ax"
    requires = ("ax",)

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        from ax.api.client import Client
        from ax.utils.common.logger import set_ax_logger_levels

        set_ax_logger_levels(logging.WARNING)
        client = Client(random_seed=seed)
        client.configure_experiment(parameters=ax_parameters(problem.space), name=problem.name)
        client.configure_optimization(
            objective=", ".join(f"-{n}" for n in problem.objectives),
            outcome_constraints=[f"{c.name} {c.op} {c.bound}" for c in problem.constraints],
        )
        recorder = problem_recorder(problem, seed)
        while len(recorder.trials) < budget:
            for index, params in client.get_next_trials(max_trials=1).items():
                outcome = recorder.evaluate(params)
                client.complete_trial(index, raw_data=dict(outcome))
        return recorder.trials


def ax_parameters(space: Space) -> list[Any]:
    """Ax parameter configs; children of one categorical parent become its dependents."""
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    dependents: dict[str, dict[Any, list[str]]] = {}
    for name, spec in space.items():
        for parent, allowed in (spec.get("condition") or {}).items():
            for value in allowed:
                dependents.setdefault(parent, {}).setdefault(value, []).append(name)
    out: list[Any] = []
    for name, spec in space.items():
        if spec["type"] == "categorical":
            choices = list(spec["choices"])
            out.append(
                ChoiceParameterConfig(
                    name=name,
                    values=choices,
                    parameter_type=_choice_type(choices),
                    is_ordered=False,
                    dependent_parameters=_complete(dependents.get(name), choices),
                )
            )
        else:
            out.append(
                RangeParameterConfig(
                    name=name,
                    bounds=(spec["low"], spec["high"]),
                    parameter_type=spec["type"],
                    scaling="log" if spec.get("log") else "linear",
                )
            )
    return out


def _complete(
    dependents: Mapping[Any, list[str]] | None, choices: list[Any]
) -> dict[Any, list[str]] | None:
    if not dependents:
        return None
    return {choice: list(dependents.get(choice, [])) for choice in choices}


def _choice_type(choices: list[Any]) -> Literal["float", "int", "str", "bool"]:
    if all(isinstance(c, bool) for c in choices):
        return "bool"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return "int"
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices):
        return "float"
    return "str"
