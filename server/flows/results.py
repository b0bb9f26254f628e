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
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
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
from tunehub.server.analysis import pareto
from tunehub.server.errors import Conflict, Invalid, NotFound
from tunehub.server.flows.ask import make_view, policy_for, queue_retry
from tunehub.server.flows.checks import check_json_finite, check_json_size
from tunehub.server.flows.studies import require_study
from tunehub.server.policies.base import ReportRecord
from tunehub.server.policies.configurations import penalized_timeout
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
        check_json_size(request.metrics, "metrics")

    settling: list[bool] = []  # set by work: whether the study's policy settles races

    def work(conn: sa.Connection) -> sa.Row[Any]:
        settling.clear()
        retry_number = _reserve_retry_number(conn, trial_id) if request.retry else None
        found = trial_store.get_trial_with_spec(conn, trial_id, lock=True)
        if found is None:
            raise NotFound(f"trial {trial_id} does not exist")
        trial, spec_text = found
        settling.append(policy_for(spec_text).settles)
        spec = study_store.parse_spec(spec_text)
        outcome = _outcome(spec, request, trial.cutoff)
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
            if _settled(trial):  # a late result of a lost race: the stop stands
                if retry_number is not None:
                    study_store.advance_trial_count(conn, trial.study_id, by=-1, now=time.time())
                return trial
            retried = trial.expired and _has_retry(conn, trial.id)
            if retried:
                raise Conflict(
                    f"trial {trial_id} was failed by the server when its heartbeat stopped "
                    f"(no heartbeat for {spec.heartbeat_grace_seconds:g} s), and a retry with "
                    "the same parameters has taken its place: this result is not stored. "
                    "Send heartbeats more often than heartbeat_grace_seconds, or raise it",
                    field="heartbeat_grace_seconds",
                )
            if not trial.expired:
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

    row = run_write(engine, work)
    if row.state == TrialState.COMPLETED.value and any(settling):
        _settle(engine, row)
    return row


def _settle(engine: Engine, row: sa.Row[Any]) -> None:
    """Let a settling policy end the trials ``row``'s result decided (its race's losers).

    A transaction of its own, under the study lock: two results of one race that
    arrive together are both stored, and whichever settles first stops the rest.
    """

    def work(conn: sa.Connection) -> None:
        study = require_study(conn, row.study_id, lock=True)
        spec = study_store.parse_spec(study.spec)
        view = make_view(conn, study.id, spec, study.trial_count)
        losers = policy_for(study.spec).settle(view, trial_store.to_record(row))
        error = f"stopped by the policy: trial {row.number} finished first"
        trial_store.stop_running(conn, losers, now=time.time(), error=error)

    run_write(engine, work)


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
            if _settled(trial):
                return Decision.STOP
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
            if _settled(trial):
                return TrialState(trial.state), Decision.STOP
            if not _running_or_revived(conn, trial, now):
                raise Conflict(
                    f"trial {trial_id} is {trial.state}: only running trials take heartbeats",
                    field="state",
                )
            stop = bool(trial.stop_requested)
        return TrialState.RUNNING, Decision.STOP if stop else Decision.CONTINUE

    return run_write(engine, work)


def _settled(trial: sa.Row[Any]) -> bool:
    """Stopped by the policy while it ran (a lost race): its worker is to stop it."""
    return trial.state == TrialState.STOPPED.value and bool(trial.stop_requested)


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


def _outcome(
    spec: StudySpec, request: TellRequest, trial_cutoff: float | None = None
) -> dict[str, Any]:
    """The trial columns a tell sets. Non-finite objective values make a failed trial."""
    outcome: dict[str, Any] = {
        "metrics": request.metrics,
        "cost": request.cost,
        "values": None,
        "value": None,
        "error": request.error,
        "timed_out": request.timed_out,
    }
    if request.timed_out:
        penalty = penalized_timeout(spec, trial_cutoff)
        if penalty is not None:
            values = {**(request.values or {}), spec.objectives[0].name: penalty}
            request = request.model_copy(update={"values": values})
        elif request.values is None:
            outcome["state"] = TrialState.FAILED.value
            outcome["error"] = request.error or "the run hit its cutoff without a result"
            return outcome
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
    _check_constraint_metrics(spec, request.metrics)
    outcome["state"] = TrialState.COMPLETED.value
    given = {n: float(v) for n, v in request.values.items() if v is not None}
    outcome["values"] = {n: given[n] for n in names}
    outcome["value"] = outcome["values"][names[0]]
    return outcome


def _finite(value: float | None) -> bool:
    try:
        return value is not None and math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _same_outcome(trial: sa.Row[Any], outcome: dict[str, Any]) -> bool:
    return all(getattr(trial, key) == value for key, value in outcome.items())


def _check_constraint_metrics(spec: StudySpec, metrics: dict[str, Any] | None) -> None:
    """A completed trial of a constrained study must tell every constrained metric as a number."""
    for constraint in spec.constraints:
        value = (metrics or {}).get(constraint.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise Invalid(
                f"metrics.{constraint.name} is missing or not a number: this study constrains "
                f"{constraint.name} {constraint.op.value} {constraint.bound}, so tell it with "
                f'every result, e.g. {{"metrics": {{"{constraint.name}": 1.5}}}}',
                field=f"metrics.{constraint.name}",
            )


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
    """The best feasible completed trial, or the Pareto set when there are several objectives."""
    spec = study_store.parse_spec(require_study(conn, study_id).spec)
    if len(spec.objectives) == 1 and not spec.constraints:
        maximize = spec.objectives[0].direction == Direction.MAXIMIZE
        best = trial_store.best_single(conn, study_id=study_id, maximize=maximize)
        return [] if best is None else [best]
    rows, points = _feasible_points(conn, study_id, spec)
    if not rows:
        return []
    if len(spec.objectives) == 1:
        first = min(range(len(rows)), key=lambda i: (points[i, 0], rows[i].number))
        return [rows[first]]
    mask = pareto.pareto_mask(points)
    return [row for row, keep in zip(rows, mask) if keep]


@dataclass(frozen=True)
class ParetoFront:
    trials: list[sa.Row[Any]]
    reference_point: dict[str, float] | None
    reference_inferred: bool
    hypervolume: float
    hypervolume_exact: bool = True


def pareto_front(conn: sa.Connection, study_id: int) -> ParetoFront:
    """The Pareto set of feasible completed trials and the hypervolume it dominates.

    The reference point is the policy's ``ref_point`` option when it has one,
    else inferred from the front (``pareto.infer_reference``).
    """
    spec = study_store.parse_spec(require_study(conn, study_id).spec)
    rows, points = _feasible_points(conn, study_id, spec)
    names = [o.name for o in spec.objectives]
    if not rows:
        return ParetoFront([], None, True, 0.0)
    mask = pareto.pareto_mask(points)
    front = points[mask]
    signs = pareto.signs(spec)
    given = spec.policy.options.get("ref_point")
    if given is not None:
        reference = signs * np.asarray(given, dtype=float)
    else:
        reference = pareto.infer_reference(front)
    return ParetoFront(
        trials=[row for row, keep in zip(rows, mask) if keep],
        reference_point={n: float(v) for n, v in zip(names, signs * reference)},
        reference_inferred=given is None,
        hypervolume=pareto.hypervolume(front, reference),
        hypervolume_exact=pareto.hypervolume_is_exact(*front.shape),
    )


def _feasible_points(
    conn: sa.Connection, study_id: int, spec: StudySpec
) -> tuple[list[sa.Row[Any]], npt.NDArray[np.float64]]:
    """Feasible completed trials and their objective values in minimize form, ``(n, m)``."""
    names = [o.name for o in spec.objectives]
    rows = [
        r
        for r in trial_store.completed_trials(conn, study_id=study_id)
        if pareto.is_feasible(spec, r.metrics)
    ]
    values = np.array([[r.values[n] for n in names] for r in rows], dtype=float)
    return rows, values.reshape(len(rows), len(names)) * pareto.signs(spec)
