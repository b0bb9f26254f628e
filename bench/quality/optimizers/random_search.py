"""Plain uniform sampling: the floor every model-based optimizer must beat."""

from __future__ import annotations

import random

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problem import Problem
from bench.quality.problem import recorder as problem_recorder
from bench.quality.space import sample
from bench.quality.trials import Trial


class RandomSearch(Optimizer):
    """Seeded draws from the problem's space in-process, with no server in the loop."""

    name = "random"

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        rng = random.Random(f"{problem.name}:{seed}")
        recorder = problem_recorder(problem, seed)
        for _ in range(budget):
            recorder.evaluate(sample(problem.space, rng))
        return recorder.trials
