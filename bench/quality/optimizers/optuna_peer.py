"""Optuna's samplers, each in its own in-memory study; constraints go through ``set_constraint``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problems import Problem
from bench.quality.space import is_active, ordered_names
from bench.quality.trials import Params, Recorder, Trial

if TYPE_CHECKING:
    import optuna

SamplerFactory = Callable[[int], "optuna.samplers.BaseSampler"]


def _gp(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    # group=True lets the multivariate model follow conditional subspaces.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


class OptunaSampler(Optimizer):
    def __init__(self, name: str, sampler: SamplerFactory, requires: tuple[str, ...]) -> None:
        self.name = name
        self.sampler = sampler
        self.requires = ("optuna", *requires)

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            directions=["minimize"] * len(problem.objectives), sampler=self.sampler(seed)
        )
        recorder = Recorder(problem.space, problem.evaluate)

        def objective(trial: optuna.trial.Trial) -> float | tuple[float, ...]:
            outcome = recorder.evaluate(_suggest(problem, trial))
            for c in problem.constraints:  # Optuna's convention: feasible when <= 0
                trial.set_constraint(c.name, _signed(c.op, outcome[c.name], c.bound))
            values = tuple(outcome[n] for n in problem.objectives)
            return values if problem.multi_objective else values[0]

        study.optimize(objective, n_trials=budget)
        return recorder.trials


def _signed(op: str, value: float, bound: float) -> float:
    return value - bound if op == "<=" else bound - value


def _suggest(problem: Problem, trial: optuna.trial.Trial) -> Params:
    """Define-by-run over the space: a conditional parameter is asked only when active."""
    params: Params = {}
    for name in ordered_names(problem.space):
        if not is_active(problem.space, name, params):
            continue
        spec = problem.space[name]
        if spec["type"] == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        else:
            params[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
    return params


def optuna_gp() -> OptunaSampler:
    # GPSampler fits its model with torch.
    return OptunaSampler("optuna-gp", _gp, ("torch", "scipy"))


def optuna_tpe() -> OptunaSampler:
    return OptunaSampler("optuna-tpe", _tpe, ())
