"""Dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.engine import Engine


async def _engine(request: Request) -> Engine:
    # async: a sync dependency would cost every request a hop through the thread pool.
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(_engine)]


# Ids are 32-bit on every database; a larger one names nothing (404 would hide a client bug).
MAX_ID = 2**31 - 1
StudyId = Annotated[int, Path(ge=1, le=MAX_ID, description="The study's id.")]
TrialId = Annotated[int, Path(ge=1, le=MAX_ID, description="The trial's id.")]
