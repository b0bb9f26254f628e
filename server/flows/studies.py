"""Creating studies: the same name and spec is the same study, another spec is a conflict."""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from tunehub.schema import StudyCreate, StudySpec
from tunehub.server.errors import Conflict, Invalid, NotFound
from tunehub.server.flows.checks import check_json_finite
from tunehub.server.policies.base import PolicySpecError
from tunehub.server.policies.registry import check_policy
from tunehub.server.store import studies as store
from tunehub.server.store.transactions import run_write


def create_study(engine: Engine, body: StudyCreate) -> tuple[sa.Row[Any], bool]:
    """Return ``(study row, created)``; raises ``Conflict`` when the name holds another spec."""
    spec = normalized_spec(body)
    check_json_finite(body.user_attrs, "user_attrs")

    def work(conn: sa.Connection) -> tuple[sa.Row[Any], bool]:
        existing = store.find_study(conn, body.name)
        if existing is not None:
            return _same_or_conflict(existing, spec), False
        seeded = (
            spec
            if spec.seed is not None
            else spec.model_copy(update={"seed": secrets.randbits(31)})
        )
        row = store.insert_study(
            conn, name=body.name, spec=seeded, user_attrs=body.user_attrs, now=time.time()
        )
        return row, True

    try:
        return run_write(engine, work)
    except IntegrityError:
        # Another server process created the same name between our read and insert.
        return run_write(engine, work)


def normalized_spec(body: StudyCreate) -> StudySpec:
    """The spec with policy options filled with their defaults (so defaults are recorded)."""
    return _with_option_defaults(body.spec())


def _with_option_defaults(spec: StudySpec) -> StudySpec:
    try:
        options = check_policy(spec)
    except PolicySpecError as error:
        raise Invalid(str(error), field=error.field) from error
    policy = spec.policy.model_copy(update={"options": options.model_dump(mode="json")})
    return spec.model_copy(update={"policy": policy})


def _same_or_conflict(existing: sa.Row[Any], spec: StudySpec) -> sa.Row[Any]:
    # Compared as parsed specs with option defaults filled in: a key added later (to
    # StudySpec or to a policy's options) reads as its default in older stored specs.
    stored = _with_option_defaults(store.parse_spec(existing.spec))
    wanted = spec if spec.seed is not None else spec.model_copy(update={"seed": stored.seed})
    old = stored.model_dump(mode="json")
    new = wanted.model_dump(mode="json")
    if old == new:
        return existing
    differing = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    raise Conflict(
        f"study {existing.name!r} exists with a different {', '.join(differing)}: "
        "use another name, or delete the existing study first",
        field=differing[0] if differing else "name",
    )


def require_study(conn: sa.Connection, study_id: int, *, lock: bool = False) -> sa.Row[Any]:
    row = store.get_study(conn, study_id, lock=lock)
    if row is None:
        raise NotFound(f"study {study_id} does not exist")
    return row
