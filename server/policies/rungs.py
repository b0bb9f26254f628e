"""Rung and bracket arithmetic of successive halving, shared by the multi-fidelity policies.

Rungs are anchored at the bottom: ``min * eta**k`` for every ``k`` that stays
clearly below ``max``, then ``max`` itself. Raising ``max`` later (iterative
deepening) keeps every lower rung where it was, so results already measured on
them stay comparable. When ``min`` and ``max`` are whole numbers, every rung is
rounded to a whole number (epochs, steps).

Hyperband's brackets follow Li et al. (2018), Algorithm 1: with ``s_max`` the
index of the top rung, bracket ``s`` starts ``ceil((s_max + 1) / (s + 1) *
eta**s)`` configurations on rung ``s_max - s`` and keeps ``floor(n * eta**-i)``
of them on each next rung. For eta = 3 and max/min = 81 this is the paper's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tunehub.schema import Fidelity

_EPS = 1e-9


def rung_budgets(fidelity: Fidelity) -> tuple[float, ...]:
    """The budgets of the rungs, increasing, the last one ``fidelity.max``."""
    steps = max(1, round(math.log(fidelity.max / fidelity.min) / math.log(fidelity.eta)))
    budgets = [fidelity.min * fidelity.eta**k for k in range(steps)] + [fidelity.max]
    if float(fidelity.min).is_integer() and float(fidelity.max).is_integer():
        budgets = [float(round(b)) for b in budgets]
    out: list[float] = []
    for budget in budgets:
        if not out or budget > out[-1] + _EPS:
            out.append(budget)
    return tuple(out)


def rung_at(budgets: tuple[float, ...], budget: float | None) -> int | None:
    """The highest rung a trial trained to ``budget`` has reached (``None``: none).

    A trial's budget is a rung's, except after the max was raised: a trial of the
    old max then counts on the highest rung at or below it.
    """
    if budget is None:
        return None
    reached = [k for k, rung in enumerate(budgets) if rung <= budget * (1 + _EPS)]
    return reached[-1] if reached else None


def milestone_step(budget: float) -> int:
    """The first report step that counts as having reached ``budget``."""
    return math.ceil(budget - _EPS)


def top_count(size: int, eta: float) -> int:
    """How many of ``size`` results are in the top ``1/eta``."""
    return math.floor(size / eta + _EPS)


@dataclass(frozen=True)
class Bracket:
    """One Hyperband bracket: ``sizes[i]`` configurations on rung ``first_rung + i``."""

    first_rung: int
    sizes: tuple[int, ...]

    @property
    def s(self) -> int:
        """Li et al.'s bracket index: how many times it halves."""
        return len(self.sizes) - 1


def hyperband_bracket(index: int, rungs: int, eta: float) -> Bracket:
    """The ``index``-th bracket of a Hyperband run (they cycle ``s = s_max .. 0``)."""
    s_max = rungs - 1
    s = s_max - index % rungs
    n = math.ceil((s_max + 1) / (s + 1) * eta**s - _EPS)
    return extended_bracket(s_max - s, n, rungs, eta)


def extended_bracket(first_rung: int, n: int, rungs: int, eta: float) -> Bracket:
    """A bracket that starts ``n`` configurations on ``first_rung``, up to the top rung.

    After the max was raised, a bracket laid out for the old max goes on the same
    way into the new rungs (at least one configuration each), reusing its results.
    """
    sizes = tuple(max(1, math.floor(n * eta**-i + _EPS)) for i in range(rungs - first_rung))
    return Bracket(first_rung=first_rung, sizes=sizes)
