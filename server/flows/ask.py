"""The ask flow: hand out trials to a worker under the study's lock.

Order of work inside one write transaction: lock the study and reserve ``count``
trial numbers (one statement); fail trials whose heartbeat expired and queue
their retries; answer a repeated request id with the trials it got before, or
else start enqueued configurations and ask the policy for the rest; give back
the numbers left unused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from cachetools import LRUCache
from sqlalchemy.engine import Engine

from tunehub.schema import AskRequest, EnqueueRequest, PolicySpec, StudySpec, TrialState
from tunehub.server.errors import Conflict, Invalid, NotFound
from tunehub.server.flows import sweep_hint
from tunehub.server.flows.studies import require_study
from tunehub.server.policies.base import Policy, StudyView, Suggestion
from tunehub.server.policies.registry import build_policy, max_ask_count
from tunehub.server.space.params import ParamError, check_params
from tunehub.server.store import studies as study_store
from tunehub.server.store import trials as trial_store
from tunehub.server.store.transactions import run_read, run_write


def ask(engine: Engine, study_id: int, request: AskRequest) -> list[sa.Row[Any]]:
    plan = None
    if policy_is_fast(engine, study_id) is False:
        plan = run_read(engine, lambda conn: _plan(conn, study_id, request), snapshot=True)

    def work(conn: sa.Connection) -> list[sa.Row[Any]]:
        now = time.time()
        study = study_store.reserve_numbers(conn, study_id, count=request.count, now=now)
        if study is None:
            raise NotFound(f"study {study_id} does not exist")
        first = study.trial_count - request.count  # numbers reserved for new trials
        spec = study_store.parse_spec(study.spec)
        _check_count(spec, request.count)
        if spec.heartbeat_grace_seconds is not None:
            sweep_hint.expect_grace(spec.heartbeat_grace_seconds)
        if spec.max_failed_trials is not None:
            _check_failures(conn, study, spec.max_failed_trials)
        used = 0
        if _expiry_check_due(study_id, spec, now):
            used += requeue_expired(conn, study, spec, first_number=first, now=now)
        earlier, pending = trial_store.earlier_or_pending(
            conn, study_id=study_id, request_id=request.request_id, count=request.count
        )
        started: list[sa.Row[Any]] = []
        if not earlier:
            started = trial_store.start_trials(
                conn, pending, worker=request.worker, request_id=request.request_id, now=now
            )
            remaining = request.count - len(started)
            if remaining:
                if plan is not None and plan.holds(conn, study, first + used, remaining):
                    suggestions = plan.suggestions[:remaining]
                else:
                    view = make_view(conn, study_id, spec, first + used)
                    suggestions = policy_for(study.spec).suggest(view, remaining)[:remaining]
                started += trial_store.insert_trials(
                    conn,
                    study_id=study_id,
                    first_number=first + used,
                    suggestions=with_budget(spec, suggestions),
                    state=TrialState.RUNNING,
                    worker=request.worker,
                    request_id=request.request_id,
                    now=now,
                )
                used += len(suggestions)
        if used != request.count:  # give back (or take more of) the reserved numbers
            study_store.advance_trial_count(conn, study_id, by=used - request.count, now=now)
        return earlier or sorted(started, key=lambda r: r.number)

    return run_write(engine, work)


# Study id -> whether its policy is fast. Ids are never reused and a study's policy
# never changes, so an entry never goes stale.
_fast_policy: dict[int, bool] = {}


def known_policy_speed(study_id: int) -> bool | None:
    """``policy_is_fast`` when this process already knows it, without touching the database."""
    return _fast_policy.get(study_id)


def policy_is_fast(engine: Engine, study_id: int) -> bool | None:
    """Whether the study's policy is ``fast``; ``None`` when there is no such study."""
    if study_id not in _fast_policy:
        row = run_read(engine, lambda conn: study_store.get_study(conn, study_id))
        if row is None:
            return None
        _fast_policy[study_id] = policy_for(row.spec).fast
    return _fast_policy[study_id]


@dataclass(frozen=True)
class _Plan:
    """Suggestions a slow policy computed outside the study lock, and the state they assumed."""

    study_id: int
    spec_text: str
    next_number: int
    fingerprint: tuple[tuple[str, int, int], ...]
    suggestions: list[Suggestion]

    def holds(self, conn: sa.Connection, study: sa.Row[Any], next_number: int, count: int) -> bool:
        """Whether the study is still as planned, so the suggestions are what ``suggest`` gives."""
        return (
            study.spec == self.spec_text
            and next_number == self.next_number
            and count <= len(self.suggestions)
            and trial_store.state_fingerprint(conn, self.study_id) == self.fingerprint
        )


def _plan(conn: sa.Connection, study_id: int, request: AskRequest) -> _Plan | None:
    """Run a slow policy (model fitting) on a read snapshot, holding no lock.

    ``ask`` calls it only for policies that are not ``fast``.

    Other asks and tells, of this study and of others, go on meanwhile. Under
    the lock, ``ask`` uses the plan only if no trial changed state and no number
    was taken since; otherwise it asks the policy again there. Either way the
    answer is ``suggest`` on the study as it is when the trials are stored.
    """
    study = study_store.get_study(conn, study_id)
    if study is None:
        return None
    fingerprint = trial_store.state_fingerprint(conn, study_id)
    if any(state == TrialState.PENDING.value for state, _, _ in fingerprint):
        return None  # enqueued trials go first, and change what the policy sees
    if request.request_id is not None and trial_store.trials_for_request(
        conn, study_id=study_id, request_id=request.request_id
    ):
        return None
    spec = study_store.parse_spec(study.spec)
    _check_count(spec, request.count)
    view = make_view(conn, study_id, spec, study.trial_count)
    suggestions = policy_for(study.spec).suggest(view, request.count)[: request.count]
    return _Plan(study_id, study.spec, study.trial_count, fingerprint, suggestions)


def _check_count(spec: StudySpec, count: int) -> None:
    limit = max_ask_count(spec.policy)
    if count > limit:
        raise Invalid(
            f"count is {count}: policy {spec.policy.name!r} proposes at most {limit} trials "
            "per ask (its cost grows with the batch); ask again for more",
            field="count",
        )


def _check_failures(conn: sa.Connection, study: sa.Row[Any], limit: int) -> None:
    failed = trial_store.count_in_state(conn, study.id, TrialState.FAILED)
    if failed >= limit:
        raise Conflict(
            f"study {study.name!r} hands out no more trials: {failed} have failed, and "
            f"max_failed_trials is {limit}. Look at their errors, fix the objective, then "
            "raise max_failed_trials (PATCH the study) to go on",
            field="max_failed_trials",
        )


def _check_instance(spec: StudySpec, instance: str | None, known: Collection[str]) -> None:
    """``known``: the study's instance ids (``spec.instances.by_id()``, built once per batch)."""
    if instance is None:
        return
    if spec.instances is None:
        raise Invalid(
            f"instance {instance!r}: this study declares no instances; leave instance out",
            field="instance",
        )
    if instance not in known:
        raise Invalid(
            f"instance {instance!r} is not one of the study's train or test instances",
            field="instance",
        )


def enqueue(engine: Engine, study_id: int, request: EnqueueRequest) -> tuple[sa.Row[Any], bool]:
    """Queue a known configuration ahead of the policy; ``(trial, created)``."""
    ((row, created),) = enqueue_many(engine, study_id, [request])
    return row, created


def enqueue_many(
    engine: Engine, study_id: int, requests: Sequence[EnqueueRequest]
) -> list[tuple[sa.Row[Any], bool]]:
    """Queue known configurations in one transaction; ``(trial, created)`` for each, in
    order. A request whose ``request_id`` was used before gets that trial back.

    One transaction and one look at the study's instances for all of them: queued one by
    one, an incumbent's 10,000 test runs took 97 s.
    """

    def work(conn: sa.Connection) -> list[tuple[sa.Row[Any], bool]]:
        study = require_study(conn, study_id, lock=True)
        given = {r.request_id for r in requests if r.request_id is not None}
        earlier = trial_store.trials_for_enqueue_requests(
            conn, study_id=study_id, request_ids=given
        )
        spec = study_store.parse_spec(study.spec)
        known = spec.instances.by_id() if spec.instances is not None else {}
        queued: set[str] = set()  # request ids this batch queues (a repeat gets that trial)
        fresh: list[Suggestion] = []
        fresh_ids: list[str | None] = []
        for request in requests:
            if request.request_id in earlier or request.request_id in queued:
                continue
            try:
                params = check_params(spec.space, request.params)
            except ParamError as error:
                raise Invalid(str(error), field=f"params.{error.field}") from error
            _check_instance(spec, request.instance, known)
            fresh.append(
                Suggestion(params=params, instance=request.instance, meta={"enqueued": True})
            )
            fresh_ids.append(request.request_id)
            if request.request_id is not None:
                queued.add(request.request_id)
        now = time.time()
        rows = trial_store.insert_trials(
            conn,
            study_id=study_id,
            first_number=study.trial_count,
            suggestions=fresh,
            state=TrialState.PENDING,
            worker=None,
            request_id=None,
            enqueue_request_ids=fresh_ids,
            now=now,
        )
        if rows:
            study_store.advance_trial_count(conn, study_id, by=len(rows), now=now)
        made = iter(rows)
        answers: list[tuple[sa.Row[Any], bool]] = []
        for request in requests:
            if request.request_id in earlier:
                answers.append((earlier[request.request_id], False))
                continue
            row = next(made)
            answers.append((row, True))
            if request.request_id is not None:
                earlier[request.request_id] = row  # a repeat later in this batch gets it
        return answers

    return run_write(engine, work)


# When each study last looked for expired trials in this process. Only a rate limit:
# the sweeper and other processes check too, so losing it loses nothing.
_last_expiry_check: dict[int, float] = {}
_EXPIRY_CHECK_EVERY = 1.0


def _expiry_check_due(study_id: int, spec: StudySpec, now: float) -> bool:
    grace = spec.heartbeat_grace_seconds
    if grace is None:
        return False
    if now - _last_expiry_check.get(study_id, 0.0) < min(grace / 4, _EXPIRY_CHECK_EVERY):
        return False
    _last_expiry_check[study_id] = now
    return True


def requeue_expired(
    conn: sa.Connection, study: sa.Row[Any], spec: StudySpec, *, first_number: int, now: float
) -> int:
    """Fail trials that missed their heartbeat; queue retries numbered from ``first_number``.

    Returns how many retries were queued (and so how many numbers were used).
    """
    if spec.heartbeat_grace_seconds is None:
        return 0
    expired = trial_store.expire_stale(
        conn, study_id=study.id, grace=spec.heartbeat_grace_seconds, now=now
    )
    retried = [row for row in expired if row.retries < spec.max_retries]
    for i, row in enumerate(retried):
        queue_retry(conn, study.id, row, number=first_number + i, now=now)
    return len(retried)


def queue_retry(
    conn: sa.Connection, study_id: int, row: sa.Row[Any], *, number: int, now: float
) -> None:
    """Queue ``row``'s configuration again as a pending trial whose parent is ``row``.

    The caller holds the study lock and reserved ``number``; the retry starts
    from the parent's checkpoint when its worker keeps one.
    """
    trial_store.insert_trials(
        conn,
        study_id=study_id,
        first_number=number,
        suggestions=[
            Suggestion(
                params=row.params,
                budget=row.budget,
                instance=row.instance,
                cutoff=row.cutoff,
                parent_id=row.id,
                meta={**(row.policy_meta or {}), "retry_of": row.number},
            )
        ],
        state=TrialState.PENDING,
        worker=None,
        request_id=None,
        retries=row.retries + 1,
        now=now,
    )


def with_budget(spec: StudySpec, suggestions: list[Suggestion]) -> list[Suggestion]:
    """Give a study's max budget to suggestions without one (policies that do not schedule)."""
    if spec.fidelity is None:
        return suggestions
    top = spec.fidelity.max
    return [s if s.budget is not None else replace(s, budget=top) for s in suggestions]


def make_view(conn: sa.Connection, study_id: int, spec: StudySpec, next_number: int) -> StudyView:
    return StudyView(
        study_id=study_id,
        spec=spec,
        next_number=next_number,
        load_trials=lambda states: trial_store.load_records(conn, study_id, states),
        load_reports=lambda trial_id: trial_store.load_reports(conn, trial_id),
        load_milestone=lambda step: trial_store.load_milestone(conn, study_id, step),
    )


_POLICIES: LRUCache[str, tuple[int, Policy]] = LRUCache(
    study_store.SPEC_CACHE_BYTES, getsizeof=lambda v: v[0]
)
_POLICIES_LOCK = threading.Lock()


def policy_for(spec_text: str) -> Policy:
    """Policies hold only their options, so one instance serves every ask of a spec (kept
    by the spec's text, as much of it as ``SPEC_CACHE_BYTES`` holds)."""
    with _POLICIES_LOCK:
        hit = _POLICIES.get(spec_text)
    if hit is not None:
        return hit[1]
    spec = study_store.parse_spec(spec_text)
    policy = build_policy(PolicySpec.model_validate(spec.policy.model_dump()))
    if len(spec_text) <= study_store.MAX_SPEC_BYTES:
        with _POLICIES_LOCK:
            _POLICIES[spec_text] = (len(spec_text), policy)
    return policy
