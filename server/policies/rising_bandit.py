"""``rising-bandit``: algorithm selection and tuning (CASH) as a rising bandit.

After Li et al., "Efficient Automatic CASH via Rising Bandits" (AAAI 2020). The
space's top-level categorical (``arm``, e.g. ``model``) chooses the algorithm;
each of its values is an arm, tuned by its own searcher (``gp`` or ``random``)
over the parameters active for it. An arm's reward is the best value it has found
so far, a curve that only rises. After ``window`` results an arm gets bounds: the
best so far below, and above it that best extended by its recent slope (the
rise over its last ``window`` results, per result) over every trial the study
has left (``horizon`` less all arms' results so far), the most it could still
get. An arm whose upper bound is below another's lower bound is eliminated for
good; the survivors are pulled in turn, fewest first.

Each arm's searcher sees a study of its own: the arm's parameters (conditions on
the arm dropped), its trials, numbered from 0, and a seed of its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunehub.schema import Direction, PolicySpec, StudySpec, TrialState
from tunehub.server.policies.base import (
    Policy,
    PolicySpecError,
    StudyView,
    Suggestion,
    TrialRecord,
)
from tunehub.space import CategoricalParam, ParamValue


class RisingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arm: str | None = None
    """The categorical that chooses the algorithm (default: the one other parameters'
    conditions name, when there is one)."""
    searcher: str = Field(default="gp", pattern="^(gp|random)$")
    window: int = Field(default=5, ge=1, le=1000)
    horizon: int = Field(default=100, ge=2, le=1_000_000)
    """Trials the study will run in all: an arm's slope is extended over those left."""


class RisingBanditPolicy(Policy):
    name = "rising-bandit"
    Options = RisingOptions

    @classmethod
    def check_spec(cls, options: BaseModel, spec: StudySpec) -> None:
        assert isinstance(options, RisingOptions)
        if len(spec.objectives) != 1:
            raise PolicySpecError("objectives", "policy 'rising-bandit' takes one objective")
        arm_parameter(options, spec)

    def suggest(self, view: StudyView, count: int) -> list[Suggestion]:
        options = self.options
        assert isinstance(options, RisingOptions)
        name = arm_parameter(options, view.spec)
        arms = list(_choices(view.spec, name))
        trials = view.trials()
        alive = surviving_arms(view.spec, options, name, arms, trials)
        pulls = {arm: sum(1 for t in trials if t.params.get(name) == arm) for arm in arms}
        chosen: list[ParamValue] = []
        for _ in range(count):
            arm = min(alive, key=lambda a: (pulls[a], arms.index(a)))
            chosen.append(arm)
            pulls[arm] += 1
        searcher = _searcher(options.searcher)
        by_arm: dict[int, list[Suggestion]] = {}
        for arm in dict.fromkeys(chosen):
            n = chosen.count(arm)
            sub = _arm_view(view, name, arm, pulls[arm] - n)
            by_arm[arms.index(arm)] = [
                replace(s, params={name: arm, **s.params}, meta={**s.meta, "arm": arm})
                for s in searcher.suggest(sub, n)
            ]
        return [by_arm[arms.index(arm)].pop(0) for arm in chosen if by_arm[arms.index(arm)]]


def arm_parameter(options: RisingOptions, spec: StudySpec) -> str:
    if options.arm is not None:
        found = spec.space.get(options.arm)
        if not isinstance(found, CategoricalParam) or found.condition is not None:
            raise PolicySpecError(
                "policy.options.arm",
                f"arm {options.arm!r} must name an unconditional categorical parameter",
            )
        return options.arm
    parents = {p for spec_ in spec.space.values() for p in (spec_.condition or {})}
    candidates = [
        n
        for n in parents
        if isinstance(spec.space[n], CategoricalParam) and spec.space[n].condition is None
    ]
    if len(candidates) != 1:
        raise PolicySpecError(
            "policy.options.arm",
            "name the categorical that chooses the algorithm, e.g. "
            '{"arm": "model"}' + (f" (one of {sorted(candidates)})" if candidates else ""),
        )
    return candidates[0]


def _choices(spec: StudySpec, name: str) -> Sequence[ParamValue]:
    param = spec.space[name]
    assert isinstance(param, CategoricalParam)
    return param.choices


def surviving_arms(
    spec: StudySpec,
    options: RisingOptions,
    name: str,
    arms: Sequence[ParamValue],
    trials: Sequence[TrialRecord],
) -> list[ParamValue]:
    """The arms no other arm's best-so-far has overtaken for good, replayed in order."""
    objective = spec.objectives[0]
    sign = 1.0 if objective.direction == Direction.MAXIMIZE else -1.0
    curves: dict[ParamValue, list[float]] = {arm: [] for arm in arms}
    alive = list(arms)
    for trial in trials:
        arm = trial.params.get(name)
        if trial.state != TrialState.COMPLETED or arm not in curves or not trial.values:
            continue
        value = sign * float(trial.values[objective.name])
        curve = curves[arm]
        curve.append(max(value, curve[-1]) if curve else value)
        alive = _eliminate(alive, curves, options)
    return alive


def _eliminate(
    alive: list[ParamValue], curves: dict[ParamValue, list[float]], options: RisingOptions
) -> list[ParamValue]:
    window = options.window
    bounded = [a for a in alive if len(curves[a]) > window]
    if len(bounded) < 2:
        return alive
    # No arm can get more results than the study has trials left, however many it wins.
    left = max(options.horizon - sum(len(c) for c in curves.values()), 0)
    lower = {a: curves[a][-1] for a in bounded}
    upper = {}
    for a in bounded:
        curve = curves[a]
        slope = (curve[-1] - curve[-1 - window]) / window
        upper[a] = curve[-1] + slope * left
    best_lower = max(lower.values())
    return [a for a in alive if a not in upper or upper[a] >= best_lower]


def _searcher(name: str) -> Policy:
    from tunehub.server.policies.registry import build_policy

    return build_policy(PolicySpec(name=name))


def _arm_view(view: StudyView, name: str, arm: ParamValue, pulls: int) -> StudyView:
    """The study as the arm's searcher sees it: its parameters, trials and seed."""
    spec = view.spec
    space = _arm_space(spec, name, arm)
    seed = zlib.crc32(f"{view.seed}:{arm!r}".encode())
    sub = StudySpec.model_validate(
        {
            "space": {k: v.model_dump() for k, v in space.items()},
            "objectives": [o.model_dump() for o in spec.objectives],
            "constraints": [c.model_dump() for c in spec.constraints],
            "seed": seed,
        }
    )

    def project(trial: TrialRecord) -> TrialRecord:
        return replace(trial, params={k: v for k, v in trial.params.items() if k in space})

    def load(states: Collection[TrialState] | None) -> tuple[TrialRecord, ...]:
        mine = [t for t in view.trials(states) if t.params.get(name) == arm]
        return tuple(project(t) for t in mine)

    return StudyView(
        study_id=view.study_id,
        spec=sub,
        next_number=pulls,
        load_trials=load,
        load_reports=lambda trial_id: view.reports(trial_id),
    )


def _arm_space(spec: StudySpec, name: str, arm: ParamValue) -> dict[str, Any]:
    """Parameters active when ``name`` is ``arm``, with that condition dropped."""
    space: dict[str, Any] = {}
    for key, param in spec.space.items():
        if key == name:
            continue
        condition = dict(param.condition or {})
        if name in condition and arm not in condition.pop(name):
            continue
        space[key] = param.model_copy(update={"condition": condition or None})
    # A parameter whose parent was dropped is never active for this arm.
    changed = True
    while changed:
        changed = False
        for key in list(space):
            if any(parent not in space for parent in space[key].condition or {}):
                del space[key]
                changed = True
    return space
