"""Study rows: create, find, list, delete.

Each finder says its error contract: ``None`` when the study does not exist.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa
from cachetools import LRUCache

from tunehub.schema import StudySpec, TrialState
from tunehub.server.store.tables import studies, trials


def canonical_spec(spec: StudySpec) -> str:
    """The spec as compact JSON, parameters in declared order (which fixes the encoding)."""
    return json.dumps(spec.model_dump(mode="json"), separators=(",", ":"))


SPEC_CACHE_BYTES = 32 * 1024 * 1024
"""Stored spec text the parsed-spec cache holds at most (a spec is up to ``MAX_SPEC_BYTES``)."""
MAX_SPEC_BYTES = 1024 * 1024
"""The largest stored spec (its canonical JSON): checked when a study is made."""

_SPECS: LRUCache[str, tuple[int, StudySpec]] = LRUCache(SPEC_CACHE_BYTES, getsizeof=lambda v: v[0])
_SPECS_LOCK = threading.Lock()


def parse_spec(text: str) -> StudySpec:
    """Parse a stored spec; cached by its text, which never changes under an id."""
    with _SPECS_LOCK:
        hit = _SPECS.get(text)
    if hit is not None:
        return hit[1]
    spec = StudySpec.model_validate_json(text)
    if len(text) <= MAX_SPEC_BYTES:
        with _SPECS_LOCK:
            _SPECS[text] = (len(text), spec)
    return spec


def insert_study(
    conn: sa.Connection,
    *,
    name: str,
    spec: StudySpec,
    user_attrs: dict[str, Any],
    now: float,
) -> sa.Row[Any]:
    row = conn.execute(
        studies.insert()
        .values(
            name=name,
            spec=canonical_spec(spec),
            policy_name=spec.policy.name,
            user_attrs=user_attrs,
            trial_count=0,
            created_at=now,
            updated_at=now,
        )
        .returning(*studies.c)
    ).one()
    return row


# Hot-path statements are built once: building SQLAlchemy expressions per request
# costs more than SQLite takes to run them. SQLite compiles FOR UPDATE to nothing;
# its BEGIN IMMEDIATE already holds the database's write lock.
_STUDY = sa.select(studies).where(studies.c.id == sa.bindparam("study_id"))
_STUDY_LOCKED = _STUDY.with_for_update()
_ADVANCE = (
    studies.update()
    .where(studies.c.id == sa.bindparam("study_id"))
    .values(
        trial_count=studies.c.trial_count + sa.bindparam("by"),
        updated_at=sa.bindparam("now"),
    )
)
_RESERVE = _ADVANCE.returning(*studies.c)


def reserve_numbers(
    conn: sa.Connection, study_id: int, *, count: int, now: float
) -> sa.Row[Any] | None:
    """Lock the study and advance its trial counter by ``count``; ``None`` if it is missing.

    The returned row holds the counter after the update: the reserved numbers are
    ``trial_count - count`` up to ``trial_count - 1``. One statement takes the lock,
    reads the study and reserves, which is what every ask needs first.
    """
    return conn.execute(_RESERVE, {"study_id": study_id, "by": count, "now": now}).one_or_none()


def get_study(conn: sa.Connection, study_id: int, *, lock: bool = False) -> sa.Row[Any] | None:
    """The study row, or ``None``. ``lock`` takes the row lock (PostgreSQL) for the transaction."""
    return conn.execute(_STUDY_LOCKED if lock else _STUDY, {"study_id": study_id}).one_or_none()


def find_study(conn: sa.Connection, name: str) -> sa.Row[Any] | None:
    """The study named ``name``, or ``None``."""
    return conn.execute(sa.select(studies).where(studies.c.name == name)).one_or_none()


def list_studies(
    conn: sa.Connection, *, name: str | None, search: str | None, limit: int, offset: int
) -> tuple[list[sa.Row[Any]], int]:
    query = sa.select(studies)
    if name is not None:
        query = query.where(studies.c.name == name)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(studies.c.name.ilike(f"%{escaped}%", escape="\\"))
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(studies.c.id).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def trial_counts(conn: sa.Connection, study_ids: list[int]) -> dict[int, dict[TrialState, int]]:
    """Trials per state for each study (states with no trial are left out)."""
    counts: dict[int, dict[TrialState, int]] = {sid: {} for sid in study_ids}
    if not study_ids:
        return counts
    rows = conn.execute(
        sa.select(trials.c.study_id, trials.c.state, sa.func.count())
        .where(trials.c.study_id.in_(study_ids))
        .group_by(trials.c.study_id, trials.c.state)
    ).all()
    for study_id, state, count in rows:
        counts[study_id][TrialState(state)] = int(count)
    return counts


def advance_trial_count(conn: sa.Connection, study_id: int, *, by: int, now: float) -> None:
    conn.execute(_ADVANCE, {"study_id": study_id, "by": by, "now": now})


def replace_spec(conn: sa.Connection, study_id: int, spec: StudySpec, *, now: float) -> sa.Row[Any]:
    return conn.execute(
        studies.update()
        .where(studies.c.id == study_id)
        .values(spec=canonical_spec(spec), updated_at=now)
        .returning(*studies.c)
    ).one()


def delete_study(conn: sa.Connection, study_id: int) -> bool:
    """Delete a study with its trials and reports; ``False`` when it did not exist."""
    return conn.execute(studies.delete().where(studies.c.id == study_id)).rowcount > 0
