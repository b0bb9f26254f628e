"""Trial and report rows.

Callers hold the study lock (see ``flows``) for anything that creates trials
or changes which trial is running; the functions here only run queries.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from tunehub.schema import TrialState
from tunehub.server.policies.base import ReportRecord, Suggestion, TrialRecord
from tunehub.server.store.tables import reports, studies, trials

# Hot-path statements, built once (see store/studies.py).
_INSERT = trials.insert().returning(*trials.c, sort_by_parameter_order=True)
# No ORDER BY here: SQLite would then walk the (study_id, number) index over the whole
# study instead of using the request-id index; the few rows are sorted in Python.
_BY_ASK_REQUEST = sa.select(trials).where(
    trials.c.study_id == sa.bindparam("study_id"),
    trials.c.ask_request_id == sa.bindparam("request_id"),
)
# One query for both things an ask must know first: what an earlier ask with this
# request id got (sorted first), else the oldest enqueued trials. A UNION of two
# index searches: with an OR, SQLite would walk every trial of the study.
_EARLIER = _BY_ASK_REQUEST.add_columns(sa.literal(0).label("k"))
_PENDING = (
    sa.select(trials, sa.literal(1).label("k"))
    .where(
        trials.c.study_id == sa.bindparam("study_id"),
        trials.c.state == TrialState.PENDING.value,
    )
    .order_by(trials.c.number)
    .limit(sa.bindparam("count"))
    .subquery()
)
_BOTH = sa.union_all(_EARLIER, sa.select(_PENDING)).subquery()
_EARLIER_OR_PENDING = (
    sa.select(_BOTH).order_by(_BOTH.c.k, _BOTH.c.number).limit(sa.bindparam("count"))
)
_TRIAL = sa.select(trials).where(trials.c.id == sa.bindparam("trial_id"))
_TRIAL_LOCKED = _TRIAL.with_for_update()
_TRIAL_WITH_SPEC = (
    sa.select(trials, studies.c.spec.label("study_spec"))
    .join(studies, studies.c.id == trials.c.study_id)
    .where(trials.c.id == sa.bindparam("trial_id"))
)
_TRIAL_WITH_SPEC_LOCKED = _TRIAL_WITH_SPEC.with_for_update(of=trials)
_FINISH = (
    trials.update()
    .where(trials.c.id == sa.bindparam("trial_id"))
    .values(
        {
            name: sa.bindparam(f"new_{name}", type_=trials.c[name].type)
            for name in (
                "state",
                "values",
                "value",
                "metrics",
                "cost",
                "error",
                "timed_out",
                "expired",
                "finished_at",
            )
        }
    )
    .returning(*trials.c)
)
_TOUCH = (
    trials.update()
    .where(trials.c.id == sa.bindparam("trial_id"), trials.c.state == TrialState.RUNNING.value)
    .values(heartbeat_at=sa.bindparam("now"))
    .returning(trials.c.stop_requested)
)

HEARTBEAT_EXPIRED = "heartbeat expired: no heartbeat for {grace:g} s from worker "


def insert_trials(
    conn: sa.Connection,
    *,
    study_id: int,
    first_number: int,
    suggestions: Sequence[Suggestion],
    state: TrialState,
    worker: str | None,
    request_id: str | None,
    enqueue_request_id: str | None = None,
    enqueue_request_ids: Sequence[str | None] | None = None,
    retries: int = 0,
    now: float,
) -> list[sa.Row[Any]]:
    """``enqueue_request_ids``, when given, holds one request id per suggestion."""
    if not suggestions:
        return []
    running = state == TrialState.RUNNING
    enqueued = enqueue_request_ids or [enqueue_request_id] * len(suggestions)
    rows = [
        {
            "study_id": study_id,
            "number": first_number + i,
            "state": state.value,
            "params": dict(s.params),
            "budget": s.budget,
            "instance": s.instance,
            "cutoff": s.cutoff,
            "parent_id": s.parent_id,
            "worker": worker if running else None,
            "ask_request_id": request_id if running else None,
            "enqueue_request_id": enqueued[i],
            "policy_meta": dict(s.meta) or None,
            "retries": retries,
            "expired": False,
            "created_at": now,
            "started_at": now if running else None,
            "heartbeat_at": now if running else None,
        }
        for i, s in enumerate(suggestions)
    ]
    return list(conn.execute(_INSERT, rows).all())


def trials_for_request(conn: sa.Connection, *, study_id: int, request_id: str) -> list[sa.Row[Any]]:
    """Trials an earlier ask with this request id got, in number order."""
    rows = conn.execute(_BY_ASK_REQUEST, {"study_id": study_id, "request_id": request_id}).all()
    return sorted(rows, key=lambda row: row.number)


def trials_for_enqueue_requests(
    conn: sa.Connection, *, study_id: int, request_ids: Collection[str]
) -> dict[str, sa.Row[Any]]:
    """The trial each of these enqueue request ids got, by request id (ids never used: absent)."""
    found: dict[str, sa.Row[Any]] = {}
    wanted = list(request_ids)
    for start in range(0, len(wanted), 500):
        query = sa.select(trials).where(
            trials.c.study_id == study_id,
            trials.c.enqueue_request_id.in_(wanted[start : start + 500]),
        )
        found.update((row.enqueue_request_id, row) for row in conn.execute(query))
    return found


def earlier_or_pending(
    conn: sa.Connection, *, study_id: int, request_id: str | None, count: int
) -> tuple[list[sa.Row[Any]], list[sa.Row[Any]]]:
    """``(trials an earlier ask with request_id got, [])``, or ``([], up to count pending)``."""
    rows = conn.execute(
        _EARLIER_OR_PENDING, {"study_id": study_id, "request_id": request_id, "count": count}
    ).all()
    earlier = [r for r in rows if request_id is not None and r.ask_request_id == request_id]
    if not earlier:
        return [], list(rows)
    if len(rows) == count:  # the earlier ask may have got more than fit in this answer
        earlier = trials_for_request(conn, study_id=study_id, request_id=request_id or "")
    return earlier, []


def start_trials(
    conn: sa.Connection,
    pending: Sequence[sa.Row[Any]],
    *,
    worker: str | None,
    request_id: str | None,
    now: float,
) -> list[sa.Row[Any]]:
    """Hand enqueued trials to a worker."""
    if not pending:
        return []
    started = conn.execute(
        trials.update()
        .where(trials.c.id.in_([row.id for row in pending]))
        .values(
            state=TrialState.RUNNING.value,
            worker=worker,
            ask_request_id=request_id,
            started_at=now,
            heartbeat_at=now,
        )
        .returning(*trials.c)
    ).all()
    return sorted(started, key=lambda row: row.number)


def expire_stale(
    conn: sa.Connection, *, study_id: int, grace: float, now: float
) -> list[sa.Row[Any]]:
    """Fail running trials whose last heartbeat is older than ``grace`` seconds.

    One statement, so a trial told or heartbeated meanwhile (PostgreSQL only locks
    the trial row for those) is never failed, nor retried, by mistake.
    """
    return list(
        conn.execute(
            trials.update()
            .where(
                trials.c.study_id == study_id,
                trials.c.state == TrialState.RUNNING.value,
                trials.c.heartbeat_at < now - grace,
            )
            .values(
                state=TrialState.FAILED.value,
                expired=True,
                finished_at=now,
                error=sa.literal(HEARTBEAT_EXPIRED.format(grace=grace))
                + sa.func.coalesce(trials.c.worker, "(unnamed)"),
            )
            .returning(*trials.c)
        ).all()
    )


def get_trial(conn: sa.Connection, trial_id: int, *, lock: bool = False) -> sa.Row[Any] | None:
    """The trial row, or ``None``. ``lock`` takes its row lock (PostgreSQL)."""
    return conn.execute(_TRIAL_LOCKED if lock else _TRIAL, {"trial_id": trial_id}).one_or_none()


SORT_KEYS: dict[str, Any] = {
    "number": trials.c.number,
    "state": trials.c.state,
    "value": trials.c.value,
    "budget": trials.c.budget,
    "cost": trials.c.cost,
    "worker": trials.c.worker,
    "instance": trials.c.instance,
    "cutoff": trials.c.cutoff,
    "timed_out": trials.c.timed_out,
    "created_at": trials.c.created_at,
    "started_at": trials.c.started_at,
    "finished_at": trials.c.finished_at,
    "duration": trials.c.finished_at - trials.c.started_at,
}
"""What trials can be sorted by; ``value`` is the first objective's."""


def list_trials(
    conn: sa.Connection,
    *,
    study_id: int,
    states: Collection[TrialState] | None,
    limit: int,
    offset: int,
    sort: str = "number",
) -> tuple[list[sa.Row[Any]], int]:
    """A page of trials ordered by a ``SORT_KEYS`` key (``-key`` descending), empty values last."""
    condition = trials.c.study_id == study_id
    if states:
        condition = condition & trials.c.state.in_([s.value for s in states])
    total = conn.execute(sa.select(sa.func.count()).where(condition)).scalar_one()
    column = SORT_KEYS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    ids = conn.execute(
        sa.select(trials.c.id)
        .where(condition)
        .order_by(column.is_(None), order, trials.c.number)
        .limit(limit)
        .offset(offset)
    ).scalars()
    kept = within_page_bytes(conn, list(ids))
    rows = {row.id: row for row in conn.execute(sa.select(trials).where(trials.c.id.in_(kept)))}
    return [rows[i] for i in kept], int(total)


PAGE_BYTES = 16 * 1024 * 1024
"""Stored metrics one page of trials may carry (each trial's may reach 256 KiB). A page is
cut short past it, and clients page on by offset: read into objects, 96 MB of metrics
took 1.5 GB of the server's memory for one answer."""


def within_page_bytes(conn: sa.Connection, ids: Sequence[int]) -> list[int]:
    """The longest prefix of ``ids`` whose stored metrics fit ``PAGE_BYTES``, at least one."""
    if not ids:
        return []
    size = sa.func.coalesce(sa.func.length(sa.cast(trials.c.metrics, sa.Text)), 0)
    sizes: dict[int, int] = {}
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start : start + 1000])
        query = sa.select(trials.c.id, size).where(trials.c.id.in_(chunk))
        sizes.update((row[0], int(row[1])) for row in conn.execute(query))
    kept: list[int] = []
    used = 0
    for trial_id in ids:
        used += sizes.get(trial_id, 0)
        if kept and used > PAGE_BYTES:
            break
        kept.append(trial_id)
    return kept


def learning_curves(
    conn: sa.Connection, *, study_id: int, limit: int, offset: int
) -> tuple[list[tuple[Any, list[Any]]], int]:
    """A page of the trials that reported, in number order, each with its reports by step."""
    reporting = (
        sa.select(trials.c.id)
        .where(trials.c.study_id == study_id)
        .where(sa.exists().where(reports.c.trial_id == trials.c.id))
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(reporting.subquery())).scalar_one()
    page: Sequence[Any] = conn.execute(
        sa.select(trials.c.id, trials.c.number, trials.c.state, trials.c.budget)
        .where(trials.c.id.in_(reporting))
        .order_by(trials.c.number)
        .limit(limit)
        .offset(offset)
    ).all()
    by_trial: dict[int, list[Any]] = {row.id: [] for row in page}
    if by_trial:
        found: Sequence[Any] = conn.execute(
            sa.select(reports.c.trial_id, reports.c.step, reports.c["values"])
            .where(reports.c.trial_id.in_(list(by_trial)))
            .order_by(reports.c.trial_id, reports.c.step)
        ).all()
        for report in found:
            by_trial[report.trial_id].append(report)
    return [(row, by_trial[row.id]) for row in page], int(total)


def record_outcome(
    conn: sa.Connection, trial_id: int, outcome: dict[str, Any], *, now: float
) -> sa.Row[Any]:
    """Store a told result (state, values, value, metrics, cost, error); returns the row."""
    params = {f"new_{k}": v for k, v in outcome.items()}
    params.update(trial_id=trial_id, new_expired=False, new_finished_at=now)
    return conn.execute(_FINISH, params).one()


def finish_trial(conn: sa.Connection, trial_id: int, **values: Any) -> sa.Row[Any]:
    """Set columns of a trial; returns the updated row."""
    return conn.execute(
        trials.update().where(trials.c.id == trial_id).values(**values).returning(*trials.c)
    ).one()


def get_trial_with_spec(
    conn: sa.Connection, trial_id: int, *, lock: bool = False
) -> tuple[sa.Row[Any], str] | None:
    """The trial row and its study's spec text in one query, or ``None``."""
    query = _TRIAL_WITH_SPEC_LOCKED if lock else _TRIAL_WITH_SPEC
    row = conn.execute(query, {"trial_id": trial_id}).one_or_none()
    return None if row is None else (row, str(row.study_spec))


def touch_heartbeat(conn: sa.Connection, trial_id: int, now: float) -> bool | None:
    """Record a heartbeat: whether a stop was requested, or ``None`` when it is not running."""
    stop = conn.execute(_TOUCH, {"trial_id": trial_id, "now": now}).scalar_one_or_none()
    return None if stop is None else bool(stop)


def stop_running(conn: sa.Connection, ids: Collection[int], *, now: float, error: str) -> int:
    """Store running trials as stopped, their workers to be told at the next heartbeat."""
    if not ids:
        return 0
    query = (
        trials.update()
        .where(trials.c.id.in_(list(ids)), trials.c.state == TrialState.RUNNING.value)
        .values(state=TrialState.STOPPED.value, stop_requested=True, finished_at=now, error=error)
    )
    result: sa.CursorResult[Any] = conn.execute(query)
    return int(result.rowcount)


def request_stop(conn: sa.Connection, trial_id: int) -> None:
    conn.execute(trials.update().where(trials.c.id == trial_id).values(stop_requested=True))


def count_in_state(conn: sa.Connection, study_id: int, state: TrialState) -> int:
    query = sa.select(sa.func.count()).where(trials.c.study_id == study_id, trials.c.state == state)
    return int(conn.execute(query).scalar_one())


def state_fingerprint(conn: sa.Connection, study_id: int) -> tuple[tuple[str, int, int], ...]:
    """``(state, count, sum of ids)`` per state: changes whenever a trial is added or moves."""
    rows = conn.execute(
        sa.select(trials.c.state, sa.func.count(), sa.func.coalesce(sa.func.sum(trials.c.id), 0))
        .where(trials.c.study_id == study_id)
        .group_by(trials.c.state)
        .order_by(trials.c.state)
    ).all()
    return tuple((str(state), int(count), int(total)) for state, count, total in rows)


def best_single(conn: sa.Connection, *, study_id: int, maximize: bool) -> sa.Row[Any] | None:
    """The completed trial with the best first objective (lowest number on ties)."""
    order = trials.c.value.desc() if maximize else trials.c.value.asc()
    return conn.execute(
        sa.select(trials)
        .where(
            trials.c.study_id == study_id,
            trials.c.state == TrialState.COMPLETED.value,
            trials.c.value.is_not(None),
        )
        .order_by(order, trials.c.number)
        .limit(1)
    ).one_or_none()


def completed_trials(conn: sa.Connection, *, study_id: int) -> list[sa.Row[Any]]:
    return list(
        conn.execute(
            sa.select(trials)
            .where(trials.c.study_id == study_id, trials.c.state == TrialState.COMPLETED.value)
            .order_by(trials.c.number)
        ).all()
    )


def summaries(conn: sa.Connection, *, study_id: int) -> list[sa.Row[Any]]:
    """Every trial of a study in number order, only the columns plots and rungs look at."""
    columns = (
        trials.c.id,
        trials.c.number,
        trials.c.state,
        trials.c.value,
        trials.c["values"],
        trials.c.cost,
        trials.c.budget,
        trials.c.policy_meta,
    )
    query = sa.select(*columns).where(trials.c.study_id == study_id).order_by(trials.c.number)
    result: sa.CursorResult[Any] = conn.execute(query)
    return list(result.all())


def trials_by_id(conn: sa.Connection, ids: Collection[int]) -> list[sa.Row[Any]]:
    """Whole rows of the given trials, in number order."""
    if not ids:
        return []
    query = sa.select(trials).where(trials.c.id.in_(list(ids))).order_by(trials.c.number)
    return list(conn.execute(query).all())


def to_record(row: sa.Row[Any]) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        number=row.number,
        state=TrialState(row.state),
        params=row.params,
        budget=row.budget,
        instance=row.instance,
        cutoff=row.cutoff,
        timed_out=row.timed_out,
        parent_id=row.parent_id,
        values=row.values,
        metrics=row.metrics,
        cost=row.cost,
        meta=row.policy_meta,
    )


def load_records(
    conn: sa.Connection, study_id: int, states: Collection[TrialState] | None
) -> tuple[TrialRecord, ...]:
    query = sa.select(trials).where(trials.c.study_id == study_id)
    if states is not None:
        query = query.where(trials.c.state.in_([s.value for s in states]))
    return tuple(to_record(r) for r in conn.execute(query.order_by(trials.c.number)))


def get_report(conn: sa.Connection, trial_id: int, step: int) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(reports).where(reports.c.trial_id == trial_id, reports.c.step == step)
    ).one_or_none()


def insert_report(
    conn: sa.Connection, *, trial_id: int, step: int, values: dict[str, float], now: float
) -> None:
    conn.execute(
        reports.insert().values(trial_id=trial_id, step=step, values=values, created_at=now)
    )


def load_reports(conn: sa.Connection, trial_id: int) -> tuple[ReportRecord, ...]:
    rows = conn.execute(
        sa.select(reports).where(reports.c.trial_id == trial_id).order_by(reports.c.step)
    )
    return tuple(ReportRecord(trial_id=r.trial_id, step=r.step, values=r.values) for r in rows)


def load_milestone(conn: sa.Connection, study_id: int, step: int) -> tuple[ReportRecord, ...]:
    """Each trial's first report at ``step`` or later, for the trials of one study."""
    first = (
        sa.select(reports.c.trial_id, sa.func.min(reports.c.step).label("step"))
        .join(trials, trials.c.id == reports.c.trial_id)
        .where(trials.c.study_id == study_id, reports.c.step >= step)
        .group_by(reports.c.trial_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(reports.c.trial_id, reports.c.step, reports.c["values"])
        .join(
            first, sa.and_(first.c.trial_id == reports.c.trial_id, first.c.step == reports.c.step)
        )
        .order_by(reports.c.trial_id)
    )
    return tuple(ReportRecord(trial_id=r.trial_id, step=r.step, values=r.values) for r in rows)


def list_reports(conn: sa.Connection, trial_id: int) -> list[sa.Row[Any]]:
    return list(
        conn.execute(
            sa.select(reports).where(reports.c.trial_id == trial_id).order_by(reports.c.step)
        ).all()
    )
