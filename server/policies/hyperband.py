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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tunehub.server.policies.base import StudyView, Suggestion, TrialRecord
from tunehub.server.policies.random import random_params
from tunehub.server.policies.rungs import extended_bracket, hyperband_bracket, rung_at
from tunehub.server.policies.schedulers import (
    FINISHED,
    SchedulerOptions,
    SchedulerPolicy,
    budgets_of,
    children_of,
    fidelity_of,
    live_trials,
    ranked,
)


@dataclass
class _Schedule:
    """The stored trials by (bracket, rung), and what this ask planned on top of them."""

    members: dict[tuple[int, int], list[TrialRecord]]
    layouts: dict[int, tuple[int, int]]
    promoted: set[int]
    planned: Counter[tuple[int, int]] = field(default_factory=Counter)


class HyperbandPolicy(SchedulerPolicy):
    name = "hyperband"
    Options = SchedulerOptions

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
        schedule = _Schedule(members, layouts, children_of(trials))
        out: list[Suggestion] = []
        bracket = 0
        while len(out) < count:
            suggestion = _next_in(view, bracket, schedule, view.next_number + len(out))
            if suggestion is None:
                bracket += 1
                continue
            out.append(suggestion)
        return out


def _next_in(view: StudyView, index: int, schedule: _Schedule, number: int) -> Suggestion | None:
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
        meta = {"bracket": index, "rung": rung, "first_rung": bracket.first_rung}
        meta["n"] = bracket.sizes[0]
        filled = len(schedule.members.get((index, rung), [])) + schedule.planned[(index, rung)]
        if i == 0:
            if filled < size:
                schedule.planned[(index, rung)] += 1
                return Suggestion(
                    params=random_params(view, number), budget=budgets[rung], meta=meta
                )
            continue
        below = schedule.members.get((index, rung - 1), [])
        if schedule.planned[(index, rung - 1)] or any(t.state not in FINISHED for t in below):
            return None  # the rung below is still running
        best = ranked(view.spec, below)[:size]
        if filled >= len(best):
            continue
        for candidate in best:
            if candidate.id in schedule.promoted:
                continue
            schedule.planned[(index, rung)] += 1
            schedule.promoted.add(candidate.id)
            return Suggestion(
                params=candidate.params,
                budget=budgets[rung],
                parent_id=candidate.id,
                meta=meta,
            )
    return None
