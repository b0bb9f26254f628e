"""Read-only analyses of a study: parameter importance, a plot sample and rung counts."""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from tunehub.schema import Direction, ImportanceOut, RungList, RungOut, TrialState
from tunehub.server.analysis import pareto
from tunehub.server.analysis.importance import parameter_importance
from tunehub.server.analysis.sample import PlotPoint, plot_sample
from tunehub.server.errors import Invalid
from tunehub.server.flows.studies import require_study
from tunehub.server.store import studies as study_store
from tunehub.server.store import trials as trial_store

IMPORTANCE_METHOD = "fanova: first-order functional ANOVA over a random forest (Hutter et al. 2014)"


def importance(conn: sa.Connection, study_id: int, objective: str | None) -> ImportanceOut:
    """Parameter importance for ``objective`` (the first one by default), from feasible trials."""
    study = require_study(conn, study_id)
    spec = study_store.parse_spec(study.spec)
    names = [o.name for o in spec.objectives]
    name = objective or names[0]
    if name not in names:
        raise Invalid(
            f"objective {name!r} is not an objective of this study: use one of {names}",
            field="objective",
        )
    rows = [
        r
        for r in trial_store.completed_trials(conn, study_id=study_id)
        if pareto.is_feasible(spec, r.metrics) and math.isfinite(r.values[name])
    ]
    scores = parameter_importance(
        spec.space,
        [r.params for r in rows],
        [float(r.values[name]) for r in rows],
        seed=spec.seed or 0,
    )
    ranked = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
    return ImportanceOut(
        objective=name, method=IMPORTANCE_METHOD, n_trials=len(rows), importances=ranked
    )


def trial_sample(conn: sa.Connection, study_id: int, limit: int) -> tuple[list[sa.Row[Any]], int]:
    """At most ``limit`` trials, chosen so that plots of them match plots of every trial,
    and the number of trials in the study."""
    study = require_study(conn, study_id)
    spec = study_store.parse_spec(study.spec)
    rows = trial_store.summaries(conn, study_id=study_id)
    points = [PlotPoint(r.number, r.state, r.values, r.cost, r.budget) for r in rows]
    chosen = [rows[i].id for i in plot_sample(points, spec.objectives, limit)]
    return trial_store.trials_by_id(conn, chosen), len(rows)


def rungs(conn: sa.Connection, study_id: int) -> RungList:
    """Per bracket and rung of a scheduler's trials: budget, trials, completed, best value."""
    study = require_study(conn, study_id)
    maximize = study_store.parse_spec(study.spec).objectives[0].direction == Direction.MAXIMIZE
    cells: dict[tuple[int, int], RungOut] = {}
    for row in trial_store.summaries(conn, study_id=study_id):
        meta = row.policy_meta or {}
        if not isinstance(meta.get("rung"), int):
            continue
        key = (int(meta.get("bracket") or 0), meta["rung"])
        cell = cells.setdefault(
            key,
            RungOut(
                bracket=key[0], rung=key[1], budget=row.budget, trials=0, completed=0, best=None
            ),
        )
        cell.trials += 1
        cell.completed += row.state == TrialState.COMPLETED
        value = row.value
        if (
            value is not None
            and math.isfinite(value)
            and (cell.best is None or (value > cell.best if maximize else value < cell.best))
        ):
            cell.best = value
    return RungList(rungs=[cells[k] for k in sorted(cells)])
