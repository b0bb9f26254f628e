"""Trial endpoints: read, intermediate reports, tell, heartbeat."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response

from tunehub.schema import (
    HeartbeatResponse,
    ReportOut,
    ReportRequest,
    ReportResponse,
    TellRequest,
    TrialOut,
)
from tunehub.server.api.bodies import json_body, request_body, was_large
from tunehub.server.api.convert import json_response, report_out, trial_out
from tunehub.server.api.deps import EngineDep, TrialId
from tunehub.server.api.placement import run_db
from tunehub.server.flows import results
from tunehub.server.store import trials as trial_store
from tunehub.server.store.transactions import run_read

router = APIRouter(prefix="/trials", tags=["trials"])


@router.get("/{trial_id}")
def get(trial_id: TrialId, engine: EngineDep) -> TrialOut:
    return trial_out(run_read(engine, lambda conn: results.require_trial(conn, trial_id)))


@router.post(
    "/{trial_id}/reports",
    response_model=ReportResponse,
    openapi_extra=request_body(ReportRequest),
)
def report(
    trial_id: TrialId,
    body: Annotated[ReportRequest, Depends(json_body(ReportRequest))],
    engine: EngineDep,
) -> Response:
    """Record an intermediate result; the answer says whether the trial should stop."""
    return json_response(ReportResponse(decision=results.report(engine, trial_id, body)))


@router.get("/{trial_id}/reports")
def reports(trial_id: TrialId, engine: EngineDep) -> list[ReportOut]:
    def work(conn: sa.Connection) -> list[ReportOut]:
        results.require_trial(conn, trial_id)
        return [report_out(r) for r in trial_store.list_reports(conn, trial_id)]

    return run_read(engine, work)


@router.post("/{trial_id}/tell", response_model=TrialOut, openapi_extra=request_body(TellRequest))
async def tell(
    trial_id: TrialId,
    body: Annotated[TellRequest, Depends(json_body(TellRequest))],
    engine: EngineDep,
    request: Request,
) -> Response:
    """Finish a trial with its values, or as failed, pruned or stopped. Safe to repeat.

    A trial the policy already stopped (a lost race) stays stopped: the answer shows it."""
    return await run_db(
        engine,
        lambda: json_response(trial_out(results.tell(engine, trial_id, body))),
        heavy=was_large(request),
    )


@router.post("/{trial_id}/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(trial_id: TrialId, engine: EngineDep) -> Response:
    """Keep a running trial alive; it fails once no heartbeat came within the study's grace."""
    state, decision = await run_db(engine, lambda: results.heartbeat(engine, trial_id))
    return json_response(HeartbeatResponse(state=state, decision=decision))
