"""What a benchmark problem is: space, objectives, budget, known optimum, noise, family.

Every objective is minimized. ``evaluate`` is noiseless; a problem with
``noise_sd`` has Gaussian noise added by the run's ``Recorder``, which keeps
the noiseless value beside the observed one for scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bench.quality.space import Space
from bench.quality.trials import Noise, Outcome, Params, Recorder


@dataclass(frozen=True)
class Constraint:
    """An outcome constraint told as a metric, in the form Tunehub studies take."""

    name: str
    op: Literal["<=", ">="]
    bound: float

    def violation(self, value: float) -> float:
        """How far ``value`` is on the wrong side of the bound (0 when satisfied)."""
        gap = value - self.bound if self.op == "<=" else self.bound - value
        return max(gap, 0.0)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "bound": self.bound}


@dataclass(frozen=True)
class Problem:
    name: str
    description: str
    space: Space
    objectives: tuple[str, ...]
    budget: int
    evaluate: Callable[[Params], Outcome]
    optimum: float | None = None
    """The known minimum; ``None`` measures regret against the best value any run reached."""
    constraints: tuple[Constraint, ...] = ()
    penalty: float | None = None
    """Objective value charged while no trial is feasible: the worst feasible value."""
    reference_point: tuple[float, ...] | None = None
    max_hypervolume: float | None = None
    family: str = "classic"
    """The kind of problem, for per-family tables: ``synthetic``, ``bbob``, ``noisy``, ..."""
    noise_sd: float = 0.0
    """Standard deviation of the Gaussian noise on each observed objective value."""
    half: str = ""
    """``development`` or ``held-out`` (``split.halves``), set when the suite is registered."""

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def scaled_budget(self, scale: float) -> int:
        return max(2, round(self.budget * scale))

    def feasible(self, outcome: Mapping[str, float]) -> bool:
        return all(c.violation(outcome[c.name]) == 0.0 for c in self.constraints)

    def penalized(self, outcome: Mapping[str, float]) -> float:
        """One loss for optimizers without constraint support: infeasible trials rank last.

        An infeasible trial scores the problem's penalty (its worst feasible
        value) plus its total violation, so less infeasible still ranks better.
        """
        value = outcome[self.objectives[0]]
        if self.feasible(outcome):
            return value
        assert self.penalty is not None
        return self.penalty + sum(c.violation(outcome[c.name]) for c in self.constraints)


def recorder(problem: Problem, seed: int) -> Recorder:
    """The recorder an adapter evaluates ``problem`` through in the run of ``seed``."""
    noise = Noise(problem.noise_sd, problem.objectives, f"{problem.name}:{seed}:noise")
    return Recorder(problem.space, problem.evaluate, noise if problem.noise_sd > 0 else None)
