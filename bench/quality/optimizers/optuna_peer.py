"""Optuna's samplers, each in its own in-memory study; constraints go through ``set_constraint``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.space import is_active, ordered_names
from bench.quality.trials import Params, Trial

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


def _cmaes(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    # Optuna's default for CMA-ES: parameters it cannot model (categoricals, and
    # conditional ones) are drawn by its independent (random) sampler.
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


class OptunaSampler(Optimizer):
    def __init__(
        self,
        name: str,
        sampler: SamplerFactory,
        requires: tuple[str, ...],
        *,
        single_unconstrained: bool = False,
    ) -> None:
        self.name = name
        self.sampler = sampler
        self.requires = ("optuna", *requires)
        self.single_unconstrained = single_unconstrained

    def unsupported(self, problem: Problem) -> str | None:
        if self.single_unconstrained and (problem.multi_objective or problem.constraints):
            return f"{self.name} takes one objective without constraints"
        return None

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            directions=["minimize"] * len(problem.objectives), sampler=self.sampler(seed)
        )
        recorder = problem_recorder(problem, seed)

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


def optuna_cmaes() -> OptunaSampler:
    return OptunaSampler("optuna-cmaes", _cmaes, ("cmaes",), single_unconstrained=True)
