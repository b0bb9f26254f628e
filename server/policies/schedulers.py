"""What the multi-fidelity schedulers share: options, spec checks, rung membership, ranking.

A scheduler decides *which budget* a trial gets and *which configuration* is
promoted; a searcher proposes new configurations (random, or the model-based
``gp`` searcher of ``mobster``). A promotion is a new trial with the same
params, the next rung's budget and the promoted trial as ``parent_id``, so a
worker resumes from the parent's checkpoint instead of training from scratch.
Each scheduler trial carries ``{"rung": k}`` (and Hyperband's ``"bracket"``)
in its meta; a retry copies its parent's meta and so takes its parent's place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tunehub.schema import Direction, Fidelity, StudySpec, TrialState
from tunehub.server.analysis import pareto
from tunehub.server.policies.base import Policy, PolicySpecError, StudyView, TrialRecord
from tunehub.server.policies.rungs import rung_at, rung_budgets


class SchedulerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    searcher: Literal["random", "gp"] = "random"
    """Where new configurations come from: the random stream of their number, or a
    GP over configuration and budget fed by every rung (``mobster``)."""


class SchedulerPolicy(Policy):
    """Base of the multi-fidelity schedulers: refuses studies they cannot schedule."""

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        check_scheduler_spec(cls.name, spec)


def check_scheduler_spec(policy: str, spec: StudySpec) -> None:
    """A scheduler needs a fidelity and ranks by one objective."""
    if spec.fidelity is None:
        raise PolicySpecError(
            "fidelity",
            f"policy {policy!r} needs a fidelity to schedule budgets: add e.g. "
            '"fidelity": {"name": "epochs", "min": 1, "max": 81, "eta": 3}',
        )
    if len(spec.objectives) != 1:
        raise PolicySpecError(
            "objectives",
            f"policy {policy!r} ranks trials by one objective, and this study has "
            f"{len(spec.objectives)}: use one objective, or the gp policy for several",
        )


def fidelity_of(view: StudyView) -> Fidelity:
    fidelity = view.spec.fidelity
    assert fidelity is not None, "check_scheduler_spec guarantees a fidelity"
    return fidelity


def budgets_of(view: StudyView) -> tuple[float, ...]:
    return rung_budgets(fidelity_of(view))


def live_trials(view: StudyView) -> tuple[TrialRecord, ...]:
    """Every trial except failed ones that a retry replaced (the retry holds their place)."""
    trials = view.trials()
    retried = {t.parent_id for t in trials if t.meta and "retry_of" in t.meta}
    return tuple(t for t in trials if not (t.state == TrialState.FAILED and t.id in retried))


def rank_key(spec: StudySpec, trial: TrialRecord) -> tuple[int, float, int]:
    """Sort key, best first: feasible before infeasible, then the objective, then number."""
    objective = spec.objectives[0]
    value = (trial.values or {}).get(objective.name, math.nan)
    signed = value if objective.direction == Direction.MINIMIZE else -value
    if not math.isfinite(signed):
        signed = math.inf
    feasible = pareto.is_feasible(spec, trial.metrics)
    return (0 if feasible else 1, signed, trial.number)


def ranked(spec: StudySpec, trials: Iterable[TrialRecord]) -> list[TrialRecord]:
    """Completed trials, best first."""
    done = [t for t in trials if t.state == TrialState.COMPLETED]
    return sorted(done, key=lambda t: rank_key(spec, t))


def by_rung(
    budgets: tuple[float, ...], trials: Iterable[TrialRecord]
) -> dict[int, list[TrialRecord]]:
    """Trials by the rung their budget reached."""
    out: dict[int, list[TrialRecord]] = {}
    for trial in trials:
        rung = rung_at(budgets, trial.budget)
        if rung is not None:
            out.setdefault(rung, []).append(trial)
    return out


def children_of(trials: Sequence[TrialRecord]) -> set[int]:
    """Ids of trials already promoted (they are some trial's non-retry parent)."""
    return {
        t.parent_id
        for t in trials
        if t.parent_id is not None and not (t.meta and "retry_of" in t.meta)
    }
