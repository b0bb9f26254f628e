"""Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020).

Two types, as in the paper and in Syne Tune:

- ``promotion`` (default): every ask first looks for a promotion, from the
  second-highest rung down: a completed trial in the top ``1/eta`` of its rung
  that has not been promoted yet becomes a new trial one rung up, with itself
  as parent (Algorithm 2). Otherwise a new configuration starts on the bottom
  rung. No worker ever waits for a rung to fill.
- ``stopping``: every new configuration is given the max budget, and a report
  that first reaches a rung's budget is compared with every trial's first
  report at that rung: outside the top ``1/eta`` (once at least ``eta`` trials
  reached the rung), the answer is ``stop`` and the worker tells ``pruned``.

With ``"searcher": "gp"``, new configurations come from a GP over configuration
and budget fed by every rung (MOBSTER; ``mobster``). Everything is read from
the stored trials and reports, so promotions under
out-of-order completions, and after a server restart, follow the same rule.
"""

from __future__ import annotations

from typing import Literal

from tunehub.schema import Decision, Direction, StudySpec
from tunehub.server.policies.base import (
    ReportRecord,
    StudyView,
    Suggestion,
    TrialRecord,
)
from tunehub.server.policies.rungs import milestone_step, top_count
from tunehub.server.policies.schedulers import (
    SchedulerOptions,
    SchedulerPolicy,
    budgets_of,
    by_rung,
    children_of,
    fidelity_of,
    live_trials,
    ranked,
)
from tunehub.server.policies.searchers import sampled_params


class ASHAOptions(SchedulerOptions):
    type: Literal["promotion", "stopping"] = "promotion"


class ASHAPolicy(SchedulerPolicy):
    name = "asha"
    Options = ASHAOptions

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self._options()
        budgets = budgets_of(view)
        if options.type == "stopping":
            numbers = range(view.next_number, view.next_number + count)
            return [
                Suggestion(
                    params=sampled_params(view, n, options.searcher),
                    budget=budgets[-1],
                    meta={"rung": len(budgets) - 1},
                )
                for n in numbers
            ]
        eta = fidelity_of(view).eta
        trials = list(live_trials(view))
        out: list[Suggestion] = []
        promoted = children_of(trials)
        for _ in range(count):
            suggestion = _promotion(view, trials, promoted, budgets, eta)
            if suggestion is None:
                number = view.next_number + len(out)
                suggestion = Suggestion(
                    params=sampled_params(view, number, options.searcher),
                    budget=budgets[0],
                    meta={"rung": 0},
                )
            else:
                assert suggestion.parent_id is not None
                promoted.add(suggestion.parent_id)
            out.append(suggestion)
        return out

    def decide(self, view: StudyView, trial: TrialRecord, report: ReportRecord) -> Decision:
        if self._options().type != "stopping":
            return Decision.CONTINUE
        budgets = budgets_of(view)
        reached = [k for k, b in enumerate(budgets[:-1]) if milestone_step(b) <= report.step]
        if not reached:
            return Decision.CONTINUE
        step = milestone_step(budgets[reached[-1]])
        if any(step <= r.step < report.step for r in view.reports(trial.id)):
            return Decision.CONTINUE  # judged at this rung by an earlier report
        return _judge(view.spec, view.milestone(step), trial.id, report, fidelity_of(view).eta)

    def _options(self) -> ASHAOptions:
        assert isinstance(self.options, ASHAOptions)
        return self.options


def _promotion(
    view: StudyView,
    trials: list[TrialRecord],
    promoted: set[int],
    budgets: tuple[float, ...],
    eta: float,
) -> Suggestion | None:
    """The best not-yet-promoted trial in the top ``1/eta`` of the highest rung that has one."""
    rungs = by_rung(budgets, trials)
    for rung in range(len(budgets) - 2, -1, -1):
        best = ranked(view.spec, rungs.get(rung, []))
        top = best[: top_count(len(best), eta)]
        for candidate in top:
            if candidate.id not in promoted:
                return Suggestion(
                    params=candidate.params,
                    budget=budgets[rung + 1],
                    parent_id=candidate.id,
                    meta={"rung": rung + 1},
                )
    return None


def _judge(
    spec: StudySpec,
    firsts: tuple[ReportRecord, ...],
    trial_id: int,
    report: ReportRecord,
    eta: float,
) -> Decision:
    """Stop unless ``report`` is in the top ``1/eta`` of the rung's first reports."""
    objective = spec.objectives[0]
    sign = 1.0 if objective.direction == Direction.MINIMIZE else -1.0
    if objective.name not in report.values:
        return Decision.CONTINUE
    mine = sign * report.values[objective.name]
    others = [
        sign * r.values[objective.name]
        for r in firsts
        if r.trial_id != trial_id and objective.name in r.values
    ]
    size = len(others) + 1
    if size < eta:
        return Decision.CONTINUE
    better = sum(1 for value in others if value < mine)
    return Decision.CONTINUE if better < max(1, top_count(size, eta)) else Decision.STOP
