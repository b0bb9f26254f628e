"""Plain uniform sampling: the floor every model-based optimizer must beat."""

from __future__ import annotations

import random

from bench.quality.optimizers.base import Context, Optimizer
from bench.quality.problems import Problem
from bench.quality.space import sample
from bench.quality.trials import Recorder, Trial


class RandomSearch(Optimizer):
    """Seeded draws from the problem's space in-process, with no server in the loop."""

    name = "random"

    def optimize(self, problem: Problem, seed: int, budget: int, context: Context) -> list[Trial]:
        rng = random.Random(f"{problem.name}:{seed}")
        recorder = Recorder(problem.space, problem.evaluate)
        for _ in range(budget):
            recorder.evaluate(sample(problem.space, rng))
        return recorder.trials
