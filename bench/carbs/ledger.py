"""Every optimizer's evaluations go through a ledger: equal total cost, the same record."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.carbs.problems import Problem

MAX_TRIALS = 300
"""A run also ends here, so an optimizer that only tries tiny costs still finishes."""


class Spent(Exception):
    """The run's cost budget (or trial cap) is used up: the optimizer's loop ends."""


@dataclass
class Evaluation:
    params: dict[str, Any]
    objective: float
    cost: float
    spent: float
    """Cost spent up to and including this evaluation."""
    seconds: float


@dataclass
class Ledger:
    problem: Problem
    evaluations: list[Evaluation] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def spent(self) -> float:
        return self.evaluations[-1].spent if self.evaluations else 0.0

    def charge(self, params: Mapping[str, Any]) -> tuple[float, float]:
        """Evaluate ``params`` and charge its cost; ``Spent`` once the budget is used up.

        The evaluation that crosses the budget is recorded (its cost is paid), but the
        metrics only count what was spent within the budget.
        """
        if self.spent >= self.problem.total_cost or len(self.evaluations) >= MAX_TRIALS:
            raise Spent
        clean = {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}
        objective, cost = self.problem.evaluate(clean)
        if not math.isfinite(objective):
            objective = self.problem.reference[0]
        self.evaluations.append(
            Evaluation(
                clean, objective, cost, self.spent + cost, time.perf_counter() - self.started
            )
        )
        return objective, cost
