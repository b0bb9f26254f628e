"""The optimizers bench/carbs compares, each spending one ledger's budget.

Peers see two objectives, the problem's and log10 of the cost, as they would be
set up by a user trading quality against cost. ``tunehub-carbs`` sees one
objective and the cost told with each result.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.carbs.ledger import Ledger, Spent

Run = Callable[[Ledger, int, str | None], None]


def log_cost(cost: float) -> float:
    return math.log10(max(cost, 1e-300))


def random_search(ledger: Ledger, seed: int, url: str | None) -> None:
    rng = np.random.default_rng(seed)
    try:
        while True:
            params: dict[str, Any] = {}
            for name, spec in ledger.problem.space.items():
                low, high = spec["low"], spec["high"]
                u = rng.uniform(math.log(low), math.log(high)) if spec.get("log") else None
                value = math.exp(u) if u is not None else rng.uniform(low, high)
                if spec["type"] == "int":
                    value = int(min(max(round(value), low), high))
                params[name] = float(value) if spec["type"] == "float" else value
            ledger.charge(params)
    except Spent:
        return


def _tunehub(policy: str, multi_objective: bool) -> Run:
    def run(ledger: Ledger, seed: int, url: str | None) -> None:
        import tunehub

        assert url is not None, "Tunehub optimizers need the harness's server"
        problem = ledger.problem
        objectives: Any = (
            [{"name": problem.objective}, {"name": "log_cost"}]
            if multi_objective
            else problem.objective
        )
        # Asks of a model-based policy on a busy machine can take minutes: the bench
        # scores quality at equal cost, not ask latency (bench/gp_latency.py does).
        with tunehub.Client(url, timeout=600.0) as client:
            study = client.create_study(
                name=f"carbs-{policy}-{problem.name}-{seed}-{uuid.uuid4().hex[:8]}",
                space=problem.space,
                objectives=objectives,
                policy=policy,
                seed=seed,
                cost={"unit": "told"},
            )
            try:
                while True:
                    trial = study.ask()
                    try:
                        value, cost = ledger.charge(trial.params)
                    except Spent:
                        trial.fail("the bench's cost budget is spent")
                        raise
                    values = {problem.objective: value}
                    if multi_objective:
                        values["log_cost"] = log_cost(cost)
                    trial.tell(values, cost=cost)
            except Spent:
                return

    return run


def _optuna(sampler: str) -> Run:
    def run(ledger: Ledger, seed: int, url: str | None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        chosen = (
            optuna.samplers.NSGAIISampler(seed=seed)
            if sampler == "nsga2"
            else optuna.samplers.TPESampler(seed=seed, multivariate=True)
        )
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=chosen)
        distributions = {
            name: optuna.distributions.IntDistribution(
                spec["low"], spec["high"], log=spec.get("log", False)
            )
            if spec["type"] == "int"
            else optuna.distributions.FloatDistribution(
                spec["low"], spec["high"], log=spec.get("log", False)
            )
            for name, spec in ledger.problem.space.items()
        }
        try:
            while True:
                trial = study.ask(distributions)
                value, cost = ledger.charge(trial.params)
                study.tell(trial, [value, log_cost(cost)])
        except Spent:
            return

    return run


OPTIMIZERS: dict[str, Run] = {
    "tunehub-carbs": _tunehub("carbs", multi_objective=False),
    "tunehub-gp": _tunehub("gp", multi_objective=True),
    "optuna-nsga2": _optuna("nsga2"),
    "optuna-tpe": _optuna("tpe"),
    "random": random_search,
}
