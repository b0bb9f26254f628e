"""Read-only analyses of a study: its Pareto front and parameter importance."""

from __future__ import annotations

import math

import sqlalchemy as sa

from tunehub.schema import ImportanceOut
from tunehub.server.analysis import pareto
from tunehub.server.analysis.importance import parameter_importance
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
