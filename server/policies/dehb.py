"""DEHB: differential evolution inside Hyperband brackets (Awad, Mallik and Hutter, 2021).

Each rung keeps a subpopulation, as large as the first bracket's count on that
rung (81, 27, 9, 3, 1 for eta 3 and max/min 81). The first bracket fills them:
random configurations on the bottom rung, successive-halving promotions above
(child trials, so a worker resumes the parent's checkpoint). Every later slot
is a DE offspring evaluated from scratch at its rung's budget:

- target: the next member of the rung's subpopulation (cycling through it);
- mutation (rand/1): ``a + F * (b - c)`` over three distinct members of the
  parent pool, which is the rung's own subpopulation for a bracket's first
  rung, and the bracket's best results on the rung below (the ones successive
  halving would promote) above it, topped up from all subpopulations when
  fewer than three;
- binomial crossover with the target (probability ``crossover_prob``, at
  least one coordinate from the mutant); a coordinate that left the unit cube
  is redrawn uniformly, so every offspring decodes to a valid configuration;
- selection: an offspring that does better than its target replaces it.

Selection keeps, per subpopulation slot, the best trial ever assigned to it, so
the subpopulations are a function of the stored trials whatever the order
results arrived in: any server process rebuilds the same ones. Brackets run as
in ``hyperband`` (a bracket waiting on running trials lets asks go to the next
one), so parallel workers never idle: DEHB's asynchronous mode. Genomes (the
full unit-cube vector, inactive coordinates included) are stored in the trial
meta, so conditional parameters keep their genes while switched off.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from tunehub.schema import TrialState
from tunehub.server.policies.base import StudyView, Suggestion, TrialRecord
from tunehub.server.policies.hyperband import BracketScheduler, Schedule, Slot, promote
from tunehub.server.policies.rungs import hyperband_bracket, rung_at
from tunehub.server.policies.schedulers import (
    SchedulerOptions,
    budgets_of,
    fidelity_of,
    rank_key,
)

Genome = list[float]


class DEHBOptions(SchedulerOptions):
    searcher: Literal["random"] = "random"
    """The first bracket's population is random; evolution makes every later one."""
    mutation_factor: float = Field(default=0.5, gt=0, le=2)
    crossover_prob: float = Field(default=0.5, ge=0, le=1)


@dataclass
class _Member:
    genome: Genome
    trial: TrialRecord


@dataclass
class _Population:
    """Per rung, the subpopulation's filled slots by index (a slot is empty until a trial
    there completes); sparse, since a wide fidelity makes a bracket of millions of slots."""

    slots: dict[int, dict[int, _Member]]
    sizes: dict[int, int]
    assigned: dict[int, int]
    """How many trials each rung's subpopulation has been a target for (the cycle)."""

    def members(self, rung: int) -> list[_Member]:
        return [member for _, member in sorted(self.slots.get(rung, {}).items())]

    def everyone(self) -> list[_Member]:
        return [m for rung in sorted(self.slots) for m in self.members(rung)]


class DEHBPolicy(BracketScheduler):
    name = "dehb"
    Options = DEHBOptions

    def prepare(self, view: StudyView, schedule: Schedule) -> _Population:
        budgets = budgets_of(view)
        sizes = hyperband_bracket(0, len(budgets), fidelity_of(view).eta).sizes
        population = _Population(
            slots={k: {} for k in range(len(sizes))}, sizes=dict(enumerate(sizes)), assigned={}
        )
        for trial in schedule.trials:
            meta = trial.meta or {}
            rung, slot = rung_at(budgets, trial.budget), meta.get("slot")
            if rung is None or not isinstance(slot, int) or rung not in population.slots:
                continue
            population.assigned[rung] = max(population.assigned.get(rung, 0), slot + 1)
            slots, index = population.slots[rung], slot % population.sizes[rung]
            current = slots.get(index)
            if trial.state == TrialState.COMPLETED and (
                current is None or rank_key(view.spec, trial) < rank_key(view.spec, current.trial)
            ):
                slots[index] = _Member(_genome(view, trial), trial)
        return population

    def capacity(self, slot_bracket: int, size: int, below: Sequence[TrialRecord]) -> int:
        if slot_bracket == 0:  # the first bracket is successive halving
            return min(size, len(below))
        return size if below else 0

    def fill(self, view: StudyView, slot: Slot, schedule: Schedule, state: object) -> Suggestion:
        assert isinstance(state, _Population)
        target_slot = state.assigned.get(slot.rung, 0)
        state.assigned[slot.rung] = target_slot + 1
        meta = {**slot.meta, "slot": target_slot}
        if slot.bracket == 0 and slot.position > 0:
            candidate = next(t for t in slot.below if t.id not in schedule.promoted)
            promoted = promote(candidate, slot, schedule)
            genome = _genome(view, candidate)
            return Suggestion(
                params=promoted.params,
                budget=promoted.budget,
                parent_id=promoted.parent_id,
                meta={**meta, "x": genome, "origin": "promotion"},
            )
        rng = random.Random(view.seed * 2**32 + slot.number)
        if slot.bracket == 0:  # the first bracket's bottom rung: the initial population
            genome = [rng.random() for _ in range(view.encoder.dims)]
            return Suggestion(
                params=view.encoder.decode(genome),
                budget=slot.budget,
                meta={**meta, "x": genome, "origin": "random"},
            )
        if slot.position == 0:
            pool = state.members(slot.rung)
        else:  # the bracket's best below: what successive halving would promote
            pool = [_Member(_genome(view, t), t) for t in slot.below[: slot.size]]
        genome, origin = self._offspring(view, state, slot.rung, target_slot, pool, rng)
        return Suggestion(
            params=view.encoder.decode(genome),
            budget=slot.budget,
            meta={**meta, "x": genome, "origin": origin},
        )

    def _offspring(
        self,
        view: StudyView,
        state: _Population,
        rung: int,
        target_slot: int,
        pool: list[_Member],
        rng: random.Random,
    ) -> tuple[Genome, str]:
        options = self.options
        assert isinstance(options, DEHBOptions)
        dims = view.encoder.dims
        if len(pool) < 3:
            chosen = {id(m.trial) for m in pool}
            extra = [m for m in state.everyone() if id(m.trial) not in chosen]
            rng.shuffle(extra)
            pool = pool + extra[: 3 - len(pool)]
        if len(pool) < 3:  # nothing to evolve yet
            return [rng.random() for _ in range(dims)], "random"
        a, b, c = rng.sample(pool, 3)
        mutant = [
            a.genome[i] + options.mutation_factor * (b.genome[i] - c.genome[i]) for i in range(dims)
        ]
        size = state.sizes.get(rung, 0)
        target = state.slots[rung].get(target_slot % size) if size else None
        child = list(mutant)
        if target is not None:
            forced = rng.randrange(dims)
            child = [
                mutant[i] if (i == forced or rng.random() < options.crossover_prob) else v
                for i, v in enumerate(target.genome)
            ]
        return [v if 0.0 <= v <= 1.0 else rng.random() for v in child], "mutation"


def _genome(view: StudyView, trial: TrialRecord) -> Genome:
    """The trial's stored genome, or its params encoded (inactive genes at the centre)."""
    stored = (trial.meta or {}).get("x")
    if isinstance(stored, list) and len(stored) == view.encoder.dims:
        return [float(v) for v in stored]
    encoded = view.encoder.encode(trial.params)
    return [0.5 if math.isnan(v) else float(v) for v in encoded]
