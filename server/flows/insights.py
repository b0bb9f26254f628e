"""Read-only analyses of a study: parameter importance, scaling laws, a plot sample, rungs."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import sqlalchemy as sa
from cachetools import LRUCache

from tunehub.schema import (
    Direction,
    ImportanceOut,
    ObjectiveLawOut,
    PowerLawOut,
    RungList,
    RungOut,
    ScalingOut,
    StudySpec,
    TrialState,
)
from tunehub.server.analysis import pareto
from tunehub.server.analysis import scaling as laws
from tunehub.server.analysis.importance import parameter_importance
from tunehub.server.analysis.sample import PlotPoint, plot_sample
from tunehub.server.errors import Invalid
from tunehub.server.flows.studies import require_study
from tunehub.server.store import studies as study_store
from tunehub.server.store import trials as trial_store
from tunehub.space import CategoricalParam, IntParam, ParamValue

IMPORTANCE_METHOD = "fanova: first-order functional ANOVA over a random forest (Hutter et al. 2014)"


def _objective(spec: StudySpec, objective: str | None) -> str:
    names = [o.name for o in spec.objectives]
    name = objective or names[0]
    if name not in names:
        raise Invalid(
            f"objective {name!r} is not an objective of this study: use one of {names}",
            field="objective",
        )
    return name


IMPORTANCE_CACHE_SIZE = 256
_IMPORTANCE: LRUCache[tuple[Any, ...], ImportanceOut] = LRUCache(IMPORTANCE_CACHE_SIZE)
_IMPORTANCE_LOCK = threading.Lock()


def importance(conn: sa.Connection, study_id: int, objective: str | None) -> ImportanceOut:
    """Parameter importance for ``objective`` (the first one by default), from feasible trials.

    A forest over a big study takes seconds: answers are kept until a trial of the study
    is added or changes state (the dashboard asks again on every change it sees)."""
    study = require_study(conn, study_id)
    spec = study_store.parse_spec(study.spec)
    name = _objective(spec, objective)
    key = (
        conn.engine.url.render_as_string(hide_password=False),
        study_id,
        name,
        trial_store.state_fingerprint(conn, study_id),
    )
    with _IMPORTANCE_LOCK:
        kept = _IMPORTANCE.get(key)
    if kept is not None:
        return kept
    out = _importance(conn, study_id, spec, name)
    with _IMPORTANCE_LOCK:
        _IMPORTANCE[key] = out
    return out


def _importance(conn: sa.Connection, study_id: int, spec: StudySpec, name: str) -> ImportanceOut:
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
    return trial_store.trials_by_id(conn, trial_store.within_page_bytes(conn, chosen)), len(rows)


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


def scaling(
    conn: sa.Connection, study_id: int, objective: str | None, cost: float | None
) -> tuple[ScalingOut, list[sa.Row[Any]]]:
    """Power laws in cost over the feasible cost-objective front, and that front's rows."""
    spec = study_store.parse_spec(require_study(conn, study_id).spec)
    name = _objective(spec, objective)
    maximize = next(o for o in spec.objectives if o.name == name).direction == Direction.MAXIMIZE
    rows = [
        r
        for r in trial_store.completed_trials(conn, study_id=study_id)
        if r.cost is not None
        and r.cost > 0
        and math.isfinite(r.values.get(name, math.nan))
        and pareto.is_feasible(spec, r.metrics)
    ]
    on_front = laws.cost_front([r.cost for r in rows], [r.values[name] for r in rows], maximize)
    front = [rows[i] for i in on_front]
    costs = np.array([r.cost for r in front], dtype=float)
    values = np.array([r.values[name] for r in front], dtype=float)
    numeric = [n for n, p in spec.space.items() if not isinstance(p, CategoricalParam)]
    fitted = laws.parameter_laws(costs, [r.params for r in front], numeric)
    law = laws.objective_law(costs, values, maximize)
    note = None
    if law is None:
        note = (
            f"the cost-objective front has {len(front)} trials at {len(set(costs.tolist()))} "
            f"costs; a fit needs {laws.MIN_POINTS} at different costs: tell costs with results"
        )
    recommended: dict[str, ParamValue] | None = None
    if cost is not None and front:
        nearest = min(front, key=lambda r: abs(math.log(r.cost) - math.log(cost)))
        recommended = dict(nearest.params)
        for param, fit in fitted.items():
            spec_p = spec.space[param]
            assert not isinstance(spec_p, CategoricalParam)
            value = min(max(fit.at(cost), spec_p.low), spec_p.high)
            recommended[param] = round(value) if isinstance(spec_p, IntParam) else value
    out = ScalingOut(
        objective=name,
        front=[],
        parameters={
            n: PowerLawOut(coefficient=f.coefficient, exponent=f.exponent, r2=f.r2, points=f.points)
            for n, f in fitted.items()
        },
        objective_law=None
        if law is None
        else ObjectiveLawOut(
            asymptote=law.asymptote,
            coefficient=law.coefficient,
            decay=law.decay,
            r2=law.r2,
            points=law.points,
        ),
        cost=cost,
        recommended=recommended,
        predicted=None if law is None or cost is None else law.at(cost),
        note=note,
    )
    return out, front
