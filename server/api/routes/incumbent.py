"""The incumbent of an algorithm-configuration study, and its runs on the test instances."""

from __future__ import annotations

from fastapi import APIRouter

from tunehub.schema import IncumbentOut
from tunehub.server.api.deps import EngineDep, StudyId
from tunehub.server.flows import incumbent as flow
from tunehub.server.store.transactions import run_read

router = APIRouter(prefix="/studies", tags=["algorithm configuration"])


@router.get("/{study_id}/incumbent")
def incumbent(study_id: StudyId, engine: EngineDep) -> IncumbentOut:
    """The configuration to deploy: most train instances run, then the best mean; with
    its result on every train and test instance."""
    return run_read(engine, lambda conn: flow.incumbent(conn, study_id))


@router.post("/{study_id}/incumbent/test")
def test(study_id: StudyId, engine: EngineDep) -> IncumbentOut:
    """Queue the incumbent on each test instance it has not run on (safe to repeat); the
    next asks hand those runs out first."""
    return flow.evaluate_on_test(engine, study_id)
