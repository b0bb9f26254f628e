"""Creating studies (the same name and spec is the same study, another spec is a
conflict), and raising a study's max budget while it runs."""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from tunehub.schema import Fidelity, StudyCreate, StudyPatch, StudySpec, check_budget_ratio
from tunehub.server.errors import Conflict, Invalid, NotFound
from tunehub.server.flows.checks import check_json_finite, check_json_size
from tunehub.server.policies.base import PolicySpecError
from tunehub.server.policies.registry import check_policy
from tunehub.server.store import studies as store
from tunehub.server.store.transactions import run_write


def create_study(engine: Engine, body: StudyCreate) -> tuple[sa.Row[Any], bool]:
    """Return ``(study row, created)``; raises ``Conflict`` when the name holds another spec."""
    spec = normalized_spec(body)
    check_json_finite(body.user_attrs, "user_attrs")
    check_json_size(body.user_attrs, "user_attrs")
    size = len(store.canonical_spec(spec))
    if size > store.MAX_SPEC_BYTES:
        raise Invalid(
            f"the study's spec is {size} bytes of JSON: at most {store.MAX_SPEC_BYTES}; "
            "shorten choices or encode a large set as an integer index",
            field="space",
        )

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
    if _deepened(stored, wanted):  # the script that created it, run again after a raise
        wanted = wanted.model_copy(update={"fidelity": stored.fidelity})
    # ... or after max_failed_trials was changed to let the study go on.
    wanted = wanted.model_copy(update={"max_failed_trials": stored.max_failed_trials})
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


def _deepened(stored: StudySpec, wanted: StudySpec) -> bool:
    """Whether ``stored`` is ``wanted`` with its fidelity's max raised since."""
    old, new = stored.fidelity, wanted.fidelity
    if old is None or new is None or new.max > old.max:
        return False
    return old.model_copy(update={"max": new.max}) == new


def patch_study(engine: Engine, study_id: int, patch: StudyPatch) -> sa.Row[Any]:
    """Apply what may change while the study runs. The fidelity's max is only raised:
    schedulers extend their rungs and brackets from here, reusing every trial already
    trained, and trials may already be trained beyond a lower value."""

    def work(conn: sa.Connection) -> sa.Row[Any]:
        row = require_study(conn, study_id, lock=True)
        spec = store.parse_spec(row.spec)
        changes: dict[str, Any] = {}
        if patch.fidelity is not None:
            changes["fidelity"] = _raised_fidelity(row.name, spec, patch.fidelity.max)
        if patch.max_failed_trials is not None:
            changes["max_failed_trials"] = patch.max_failed_trials
        if all(getattr(spec, k) == v for k, v in changes.items()):
            return row  # repeating the same change is a no-op
        changed = StudySpec.model_validate(spec.model_copy(update=changes).model_dump(mode="json"))
        return store.replace_spec(conn, study_id, changed, now=time.time())

    return run_write(engine, work)


def _raised_fidelity(name: str, spec: StudySpec, new_max: float) -> Fidelity:
    if spec.fidelity is None:
        raise Invalid(
            f"study {name!r} has no fidelity to raise: declare one when creating it",
            field="fidelity",
        )
    if new_max < spec.fidelity.max:
        raise Invalid(
            f"fidelity.max can only be raised: it is {spec.fidelity.max:g} and trials may "
            f"already be trained that far; give a value of at least {spec.fidelity.max:g}",
            field="fidelity.max",
        )
    try:
        check_budget_ratio(spec.fidelity.min, new_max)
    except ValueError as error:
        raise Invalid(str(error), field="fidelity.max") from error
    return spec.fidelity.model_copy(update={"max": new_max})


def require_study(conn: sa.Connection, study_id: int, *, lock: bool = False) -> sa.Row[Any]:
    row = store.get_study(conn, study_id, lock=lock)
    if row is None:
        raise NotFound(f"study {study_id} does not exist")
    return row
