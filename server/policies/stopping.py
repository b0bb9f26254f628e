"""Early stopping for policies that propose whole trials: the median stopping rule.

A trial is stopped at step ``s`` when its best value so far is worse than the
median, over completed trials, of their running averages up to ``s``
(Golovin et al., "Google Vizier", 2017). It needs no budget on the study, so
any random or Sobol study whose trials report learning curves can use it;
multi-fidelity schedulers bring their own rules.
"""

from __future__ import annotations

import statistics
from collections import OrderedDict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tunehub.schema import Decision, Direction, TrialState
from tunehub.server.policies.base import ReportRecord, StudyView, TrialRecord


class StoppingOptions(BaseModel):
    """``"stopping": {"rule": "median", "min_trials": 5, "warmup_steps": 0}``."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["none", "median"] = "none"
    min_trials: int = Field(default=5, ge=1)
    """Completed trials with reports up to the step that the rule needs before it acts."""
    warmup_steps: int = Field(default=0, ge=0)
    """Reports before this step are never stopped."""


# Curves of completed trials never change (a finished trial takes no report), so
# their (step, signed value) lists are kept across calls, by (study id, trial id).
_CURVES: OrderedDict[tuple[int, int], tuple[tuple[int, float], ...]] = OrderedDict()
_CURVES_KEPT = 100_000


def median_rule(
    options: StoppingOptions, view: StudyView, trial: TrialRecord, report: ReportRecord
) -> Decision:
    if options.rule == "none" or report.step < options.warmup_steps:
        return Decision.CONTINUE
    objective = view.spec.objectives[0]
    sign = 1.0 if objective.direction == Direction.MINIMIZE else -1.0
    mine = [v for step, v in _curve(view, trial.id, objective.name, sign) if step <= report.step]
    if not mine:
        return Decision.CONTINUE
    averages = []
    for other in view.trials([TrialState.COMPLETED]):
        key = (view.study_id, other.id)
        if key not in _CURVES:
            _CURVES[key] = _curve(view, other.id, objective.name, sign)
            if len(_CURVES) > _CURVES_KEPT:
                _CURVES.popitem(last=False)
        values = [v for step, v in _CURVES[key] if step <= report.step]
        if values:
            averages.append(sum(values) / len(values))
    if len(averages) < options.min_trials:
        return Decision.CONTINUE
    return Decision.STOP if min(mine) > statistics.median(averages) else Decision.CONTINUE


def _curve(view: StudyView, trial_id: int, name: str, sign: float) -> tuple[tuple[int, float], ...]:
    return tuple(
        (r.step, sign * r.values[name]) for r in view.reports(trial_id) if name in r.values
    )
