"""Database rows to wire models; times become UTC datetimes here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Response
from pydantic import BaseModel

from tunehub.schema import KeyOut, ReportOut, Scope, StudyOut, StudySpec, TrialOut, TrialState
from tunehub.server.api.json_shape import servable
from tunehub.server.policies.registry import max_ask_count
from tunehub.server.store.studies import parse_spec


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def study_out(row: sa.Row[Any], counts: dict[TrialState, int] | None = None) -> StudyOut:
    # The stored spec was validated when the study was made (and once per process by
    # parse_spec): construct, don't validate again on every read.
    spec = parse_spec(row.spec)
    return StudyOut.model_construct(
        **{name: getattr(spec, name) for name in StudySpec.model_fields},
        id=row.id,
        name=row.name,
        user_attrs=servable(row.user_attrs),
        trial_counts=counts or {},
        max_ask_count=max_ask_count(spec.policy),
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        updated_at=datetime.fromtimestamp(row.updated_at, UTC),
    )


def trial_out(row: sa.Row[Any]) -> TrialOut:
    return TrialOut(
        id=row.id,
        study_id=row.study_id,
        number=row.number,
        state=TrialState(row.state),
        params=row.params,
        budget=row.budget,
        instance=row.instance,
        cutoff=row.cutoff,
        timed_out=row.timed_out,
        parent_id=row.parent_id,
        worker=row.worker,
        values=row.values,
        metrics=servable(row.metrics),
        cost=row.cost,
        error=row.error,
        policy_meta=row.policy_meta,
        retries=row.retries,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        started_at=_time(row.started_at),
        finished_at=_time(row.finished_at),
        heartbeat_at=_time(row.heartbeat_at),
    )


def report_out(row: sa.Row[Any]) -> ReportOut:
    return ReportOut(
        step=row.step, values=row.values, created_at=datetime.fromtimestamp(row.created_at, UTC)
    )


def json_response(model: BaseModel) -> Response:
    """Serialize a wire model straight to JSON.

    For the hot endpoints (ask, tell, report, heartbeat): FastAPI would otherwise dump
    the returned model to a dict, validate it again and serialize it. The route still
    declares ``response_model`` so the OpenAPI document is unchanged.
    """
    return Response(model.model_dump_json(), media_type="application/json")


def key_out(row: sa.Row[Any]) -> KeyOut:
    return KeyOut(
        name=row.name,
        scope=Scope(row.scope),
        prefix=row.prefix,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        revoked_at=_time(row.revoked_at),
    )
