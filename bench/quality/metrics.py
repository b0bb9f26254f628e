"""From trials to scores: best-so-far regret or hypervolume, and their spread over seeds.

Single objective: simple regret, the best feasible value so far minus the
reference (the known optimum, or the best feasible value any run reached when
the optimum is unknown). Before the first feasible trial a run is charged the
problem's penalty (its worst feasible value). Several objectives: the
hypervolume of the feasible trials so far (higher is better), and its gap to
the best known hypervolume (the published maximum, or the run's best if that
is higher).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.quality.hypervolume import hypervolume
from bench.quality.problem import Problem
from bench.quality.trials import Trial

FRACTIONS = (0.25, 0.5, 1.0)


def best_so_far(problem: Problem, trials: Sequence[Trial]) -> list[float]:
    """Per trial: the value of the recommendation yet (single objective only).

    The recommendation is the best feasible trial observed; on a noisy problem it
    is chosen by the observed values and scored by its noiseless one, so a lucky
    draw of noise earns nothing.
    """
    name = problem.objectives[0]
    observed, value = math.inf, math.inf
    out: list[float] = []
    for trial in trials:
        if problem.feasible(trial.outcome) and trial.outcome[name] < observed:
            observed, value = trial.outcome[name], trial.scored[name]
        if math.isinf(observed):
            if problem.penalty is None:
                raise ValueError(f"{problem.name}: an infeasible trial but no penalty")
            out.append(problem.penalty)
        else:
            out.append(value)
    return out


def hypervolume_so_far(problem: Problem, trials: Sequence[Trial]) -> list[float]:
    """Per trial: the hypervolume of the feasible trials yet (several objectives)."""
    assert problem.reference_point is not None
    points: list[list[float]] = []
    out: list[float] = []
    current = 0.0
    for trial in trials:
        if problem.feasible(trial.outcome):
            points.append([trial.scored[n] for n in problem.objectives])
            current = hypervolume(points, problem.reference_point)
        out.append(current)
    return out


@dataclass(frozen=True)
class Scoring:
    """How one problem is scored in one harness run."""

    metric: str
    """``regret`` (lower is better) or ``hypervolume`` (higher is better)."""
    reference: float
    """The optimum regret is measured against, or the hypervolume gaps are measured to."""
    note: str
    label: str = ""
    """The metric as the table shows it, when it needs qualifying."""

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "hypervolume"


def scoring(problem: Problem, runs_trials: Sequence[Sequence[Trial]]) -> Scoring:
    """The reference for ``problem``, given the trials of every successful run on it."""
    if problem.multi_objective:
        assert problem.max_hypervolume is not None
        seen = max((hypervolume_so_far(problem, t)[-1] for t in runs_trials if t), default=0.0)
        reference = max(problem.max_hypervolume, seen)
        note = "hypervolume w.r.t. " + str(problem.reference_point)
        if seen > problem.max_hypervolume:
            note += f"; gap to the run's best {seen:.6g} (above the published maximum)"
        return Scoring("hypervolume", reference, note)
    if problem.optimum is not None:
        if problem.constraints:
            note = f"regret counts feasible trials only; {problem.penalty:.6g} before the first"
            return Scoring("regret", problem.optimum, note, "feasible regret")
        return Scoring("regret", problem.optimum, "")
    finals = [best_so_far(problem, t)[-1] for t in runs_trials if t]
    reference = min(finals, default=math.nan)
    note = f"optimum unknown: regret vs the best value of this run, {reference:.6g}"
    return Scoring("regret", reference, note, "regret vs run best")


def trace(problem: Problem, trials: Sequence[Trial], score: Scoring) -> list[float]:
    """Per trial: regret, or hypervolume for several objectives."""
    if problem.multi_objective:
        return hypervolume_so_far(problem, trials)
    return [v - score.reference for v in best_so_far(problem, trials)]


def gap(values: Sequence[float], score: Scoring) -> list[float]:
    """Distance to the reference, lower is better, for log plots of either metric."""
    if score.higher_is_better:
        return [score.reference - v for v in values]
    return list(values)


@dataclass(frozen=True)
class Spread:
    trials: int
    median: float
    q25: float
    q75: float

    def to_json(self) -> dict[str, float]:
        return {"trials": self.trials, "median": self.median, "q25": self.q25, "q75": self.q75}


def spread_at(traces: Sequence[Sequence[float]], budget: int, fraction: float) -> Spread:
    """Median and interquartile range over seeds after ``fraction`` of the budget."""
    n = max(1, math.ceil(fraction * budget))
    values = np.array([t[n - 1] for t in traces], dtype=float)
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return Spread(n, float(median), float(q25), float(q75))


def log10_gap(value: float, score: Scoring) -> float:
    """log10 of the hypervolume gap; -inf when the run matches the best known."""
    difference = score.reference - value
    return math.log10(difference) if difference > 0 else -math.inf
