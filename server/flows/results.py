"""Results coming back from workers: tell, intermediate reports, heartbeats.

Every write here is safe to repeat: an identical tell or report is a no-op
that answers as the first did; a different one for a finished trial is a 409.
A trial the server failed for a missed heartbeat is not dead to its worker:
its late report, heartbeat or result revives it, unless a retry already took
its place.
"""

from __future__ import annotations

import math
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tunehub.schema import (
    Decision,
    Direction,
    ReportRequest,
    StudySpec,
    TellRequest,
    TrialState,
)
from tunehub.server.errors import Conflict, Invalid, NotFound
from tunehub.server.flows.ask import make_view, policy_for, queue_retry
from tunehub.server.flows.checks import check_json_finite
from tunehub.server.flows.studies import require_study
from tunehub.server.policies.base import ReportRecord
from tunehub.server.store import studies as study_store
from tunehub.server.store import trials as trial_store
from tunehub.server.store.tables import trials
from tunehub.server.store.transactions import run_write


def require_trial(conn: sa.Connection, trial_id: int, *, lock: bool = False) -> sa.Row[Any]:
    row = trial_store.get_trial(conn, trial_id, lock=lock)
    if row is None:
        raise NotFound(f"trial {trial_id} does not exist")
    return row


def tell(engine: Engine, trial_id: int, request: TellRequest) -> sa.Row[Any]:
    if request.metrics is not None:
        check_json_finite(request.metrics, "metrics")

    def work(conn: sa.Connection) -> sa.Row[Any]:
        retry_number = _reserve_retry_number(conn, trial_id) if request.retry else None
        found = trial_store.get_trial_with_spec(conn, trial_id, lock=True)
        if found is None:
            raise NotFound(f"trial {trial_id} does not exist")
        trial, spec_text = found
        spec = study_store.parse_spec(spec_text)
        outcome = _outcome(spec, request)
        state = TrialState(trial.state)
        if state == TrialState.PENDING:
            raise Conflict(
                f"trial {trial_id} is pending (enqueued, not yet asked): ask it before telling it"
            )
        if state.finished:
            if _same_outcome(trial, outcome):  # a repeated tell: its retry was queued before
                if retry_number is not None:
                    study_store.advance_trial_count(conn, trial.study_id, by=-1, now=time.time())
                return trial
            revivable = trial.expired and not _has_retry(conn, trial.id)
            if not revivable:
                raise Conflict(
                    f"trial {trial_id} is already {state.value} with another result; "
                    "a finished trial cannot be told again differently",
                    field="state",
                )
        now = time.time()
        row = trial_store.record_outcome(conn, trial_id, outcome, now=now)
        if retry_number is not None:
            if trial.retries < spec.max_retries:
                queue_retry(conn, trial.study_id, trial, number=retry_number, now=now)
            else:  # give the reserved number back
                study_store.advance_trial_count(conn, trial.study_id, by=-1, now=now)
        return row

    return run_write(engine, work)


def _reserve_retry_number(conn: sa.Connection, trial_id: int) -> int | None:
    """Take the study lock before the trial's, as asks do, and reserve a number."""
    trial = trial_store.get_trial(conn, trial_id)
    if trial is None:
        return None
    study = study_store.reserve_numbers(conn, trial.study_id, count=1, now=time.time())
    return None if study is None else int(study.trial_count) - 1


def report(engine: Engine, trial_id: int, request: ReportRequest) -> Decision:
    def work(conn: sa.Connection) -> Decision:
        trial = require_trial(conn, trial_id, lock=True)
        study = require_study(conn, trial.study_id)
        spec = study_store.parse_spec(study.spec)
        _check_report_values(spec, request.values)
        existing = trial_store.get_report(conn, trial_id, request.step)
        now = time.time()
        if existing is not None:
            if existing.values != request.values:
                raise Conflict(
                    f"trial {trial_id} already has a different report for step {request.step}: "
                    "report each step once, with increasing steps",
                    field="step",
                )
        else:
            if not _running_or_revived(conn, trial, now):
                raise Conflict(
                    f"trial {trial_id} is {trial.state}: reports are accepted only while it runs",
                    field="state",
                )
            trial_store.insert_report(
                conn, trial_id=trial_id, step=request.step, values=request.values, now=now
            )
            trial_store.touch_heartbeat(conn, trial_id, now)
            trial = require_trial(conn, trial_id)
        if TrialState(trial.state) != TrialState.RUNNING or trial.stop_requested:
            return Decision.STOP
        view = make_view(conn, study.id, spec, study.trial_count)
        record = ReportRecord(trial_id=trial_id, step=request.step, values=request.values)
        decision = policy_for(study.spec).decide(view, trial_store.to_record(trial), record)
        if decision == Decision.STOP:
            trial_store.request_stop(conn, trial_id)  # heartbeats pass it on to the worker
        return decision

    return run_write(engine, work)


def heartbeat(engine: Engine, trial_id: int) -> tuple[TrialState, Decision]:
    """Keep a running trial alive; the decision is ``stop`` once a policy asked for it."""

    def work(conn: sa.Connection) -> tuple[TrialState, Decision]:
        now = time.time()
        stop = trial_store.touch_heartbeat(conn, trial_id, now)
        if stop is None:
            trial = require_trial(conn, trial_id, lock=True)
            if not _running_or_revived(conn, trial, now):
                raise Conflict(
                    f"trial {trial_id} is {trial.state}: only running trials take heartbeats",
                    field="state",
                )
            stop = bool(trial.stop_requested)
        return TrialState.RUNNING, Decision.STOP if stop else Decision.CONTINUE

    return run_write(engine, work)


def _running_or_revived(conn: sa.Connection, trial: sa.Row[Any], now: float) -> bool:
    if trial.state == TrialState.RUNNING.value:
        return True
    if not trial.expired or _has_retry(conn, trial.id):
        return False
    trial_store.finish_trial(
        conn,
        trial.id,
        state=TrialState.RUNNING.value,
        expired=False,
        error=None,
        finished_at=None,
        heartbeat_at=now,
    )
    return True


def _has_retry(conn: sa.Connection, trial_id: int) -> bool:
    query = sa.select(trials.c.id).where(trials.c.parent_id == trial_id).limit(1)
    return conn.execute(query).first() is not None


def _outcome(spec: StudySpec, request: TellRequest) -> dict[str, Any]:
    """The trial columns a tell sets. Non-finite objective values make a failed trial."""
    outcome: dict[str, Any] = {
        "metrics": request.metrics,
        "cost": request.cost,
        "values": None,
        "value": None,
        "error": request.error,
    }
    if request.values is None:
        assert request.state is not None
        outcome["state"] = request.state.value
        return outcome
    names = [o.name for o in spec.objectives]
    for name in request.values:
        if name not in names:
            raise Invalid(
                f"values.{name}: {name!r} is not an objective of this study; "
                f"its objectives are {names}",
                field=f"values.{name}",
            )
    for name in names:
        if name not in request.values:
            raise Invalid(
                f"values.{name} is missing: tell a value for every objective {names}",
                field=f"values.{name}",
            )
    if request.state not in (None, TrialState.COMPLETED):
        raise Invalid(
            f"state {request.state.value!r} with values: leave state out for a completed trial, "
            "or drop values",
            field="state",
        )
    bad = [n for n in names if not _finite(request.values[n])]
    if bad:
        outcome["state"] = TrialState.FAILED.value
        outcome["error"] = (
            "objective "
            + ", ".join(f"{n}={request.values[n]}" for n in bad)
            + " is not a finite number; the trial is stored as failed"
        )
        return outcome
    outcome["state"] = TrialState.COMPLETED.value
    given = {n: float(v) for n, v in request.values.items() if v is not None}
    outcome["values"] = {n: given[n] for n in names}
    outcome["value"] = outcome["values"][names[0]]
    return outcome


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _same_outcome(trial: sa.Row[Any], outcome: dict[str, Any]) -> bool:
    return all(getattr(trial, key) == value for key, value in outcome.items())


def _check_report_values(spec: StudySpec, values: dict[str, float]) -> None:
    names = [o.name for o in spec.objectives]
    for name, value in values.items():
        if name not in names:
            raise Invalid(
                f"values.{name}: {name!r} is not an objective of this study; report one of {names}",
                field=f"values.{name}",
            )
        if not math.isfinite(value):
            raise Invalid(
                f"values.{name} is {value}: report finite numbers; "
                'tell {"state": "failed"} for a diverged trial',
                field=f"values.{name}",
            )


def best_trials(conn: sa.Connection, study_id: int) -> list[sa.Row[Any]]:
    """The best completed trial, or the Pareto set when the study has several objectives."""
    spec = study_store.parse_spec(require_study(conn, study_id).spec)
    if len(spec.objectives) == 1:
        maximize = spec.objectives[0].direction == Direction.MAXIMIZE
        best = trial_store.best_single(conn, study_id=study_id, maximize=maximize)
        return [] if best is None else [best]
    signs = [1.0 if o.direction == Direction.MINIMIZE else -1.0 for o in spec.objectives]
    names = [o.name for o in spec.objectives]
    rows = trial_store.completed_trials(conn, study_id=study_id)
    points = [tuple(s * r.values[n] for s, n in zip(signs, names)) for r in rows]
    # In lexicographic order a point can only be dominated by one before it, and if
    # it is, by one already on the front: O(n * front) instead of O(n^2).
    front: list[tuple[float, ...]] = []
    chosen: list[sa.Row[Any]] = []
    for point, row in sorted(zip(points, rows), key=lambda pr: (pr[0], pr[1].number)):
        if not any(_dominates(q, point) for q in front):
            front.append(point)
            chosen.append(row)
    return sorted(chosen, key=lambda r: r.number)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
