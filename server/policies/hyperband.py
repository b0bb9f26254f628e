"""Hyperband (Li et al., JMLR 2018): brackets of successive halving.

Brackets cycle through ``s = s_max .. 0`` (``rungs.hyperband_bracket``). Inside
a bracket, a rung is filled only once every trial of the rung below has
finished, with the best ``sizes[i]`` of them, each promoted as a new trial whose
parent is the lower-rung trial. While a bracket waits for running trials, asks
go to the next bracket (opened when needed), so parallel workers never idle; the
first bracket with room always gets the next trial, so brackets finish in order.

Each trial's meta holds its bracket, its rung, and the bracket's layout (first
rung and starting count); the schedule is rebuilt from the stored trials on
every ask. When the study's max budget is raised (iterative deepening), every
bracket keeps its layout and goes on halving into the new rungs, promoting from
the results it already has; new brackets are laid out for the new max.

``BracketScheduler`` is that schedule; what fills a slot (a random
configuration, a promotion, a differential-evolution offspring) is up to the
policy built on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunehub.server.policies.base import StudyView, Suggestion, TrialRecord
from tunehub.server.policies.rungs import extended_bracket, hyperband_bracket, rung_at
from tunehub.server.policies.schedulers import (
    SchedulerOptions,
    SchedulerPolicy,
    budgets_of,
    children_of,
    fidelity_of,
    live_trials,
    ranked,
)
from tunehub.server.policies.searchers import sampled_params


@dataclass
class Schedule:
    """The stored trials by (bracket, rung), and what this ask planned on top of them."""

    trials: tuple[TrialRecord, ...]
    members: dict[tuple[int, int], list[TrialRecord]]
    layouts: dict[int, tuple[int, int]]
    promoted: set[int]
    planned: Counter[tuple[int, int]] = field(default_factory=Counter)


@dataclass(frozen=True)
class Slot:
    """An open place in a bracket: the ``position``-th rung of ``bracket``."""

    bracket: int
    rung: int
    position: int
    size: int
    filled: int
    below: list[TrialRecord]
    """Completed trials of the bracket's rung below, best first (empty at position 0)."""
    budget: float
    number: int
    meta: dict[str, Any]


class BracketScheduler(SchedulerPolicy):
    """Hyperband's bracket schedule; subclasses say what fills each slot."""

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        trials = live_trials(view)
        budgets = budgets_of(view)
        members: dict[tuple[int, int], list[TrialRecord]] = {}
        layouts: dict[int, tuple[int, int]] = {}
        for trial in trials:
            meta = trial.meta or {}
            bracket, rung = meta.get("bracket"), rung_at(budgets, trial.budget)
            if not isinstance(bracket, int) or rung is None:
                continue
            members.setdefault((bracket, rung), []).append(trial)
            first, n = meta.get("first_rung"), meta.get("n")
            if isinstance(first, int) and isinstance(n, int):
                layouts.setdefault(bracket, (first, n))
        schedule = Schedule(trials, members, layouts, children_of(trials))
        state = self.prepare(view, schedule)
        out: list[Suggestion] = []
        bracket = 0
        while len(out) < count:
            suggestion = self._next_in(view, bracket, schedule, view.next_number + len(out), state)
            if suggestion is None:
                bracket += 1
                continue
            out.append(suggestion)
        return out

    def prepare(self, view: StudyView, schedule: Schedule) -> Any:
        """What the policy reads once per ask before filling slots (default nothing)."""
        return None

    def capacity(self, slot_bracket: int, size: int, below: Sequence[TrialRecord]) -> int:
        """How many trials a rung above the first gets, given the results below it."""
        return min(size, len(below))

    def fill(self, view: StudyView, slot: Slot, schedule: Schedule, state: Any) -> Suggestion:
        """The trial for ``slot``: a new configuration, or a promotion from ``slot.below``."""
        if slot.position == 0:
            assert isinstance(self.options, SchedulerOptions)
            params = sampled_params(view, slot.number, self.options.searcher)
            return Suggestion(params=params, budget=slot.budget, meta=slot.meta)
        candidate = next(t for t in slot.below if t.id not in schedule.promoted)
        return promote(candidate, slot, schedule)

    def _next_in(
        self, view: StudyView, index: int, schedule: Schedule, number: int, state: Any
    ) -> Suggestion | None:
        """The next trial of bracket ``index``, or ``None`` when it is full or waits on a rung."""
        budgets = budgets_of(view)
        eta = fidelity_of(view).eta
        if index in schedule.layouts:
            first, n = schedule.layouts[index]
            bracket = extended_bracket(first, n, len(budgets), eta)
        else:
            bracket = hyperband_bracket(index, len(budgets), eta)
        for i, size in enumerate(bracket.sizes):
            rung = bracket.first_rung + i
            filled = len(schedule.members.get((index, rung), [])) + schedule.planned[(index, rung)]
            below: list[TrialRecord] = []
            if i > 0:
                lower = schedule.members.get((index, rung - 1), [])
                if schedule.planned[(index, rung - 1)] or any(not t.state.finished for t in lower):
                    return None  # the rung below is still running
                below = ranked(view.spec, lower)
                size = self.capacity(index, size, below)
            if filled >= size:
                continue
            meta = {
                "bracket": index,
                "rung": rung,
                "first_rung": bracket.first_rung,
                "n": bracket.sizes[0],
            }
            slot = Slot(index, rung, i, size, filled, below, budgets[rung], number, meta)
            schedule.planned[(index, rung)] += 1
            return self.fill(view, slot, schedule, state)
        return None


def promote(candidate: TrialRecord, slot: Slot, schedule: Schedule) -> Suggestion:
    """``candidate`` trained on to the slot's budget, as a child trial."""
    schedule.promoted.add(candidate.id)
    return Suggestion(
        params=candidate.params, budget=slot.budget, parent_id=candidate.id, meta=slot.meta
    )


class HyperbandPolicy(BracketScheduler):
    name = "hyperband"
    Options = SchedulerOptions
