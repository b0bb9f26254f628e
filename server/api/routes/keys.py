"""API keys over HTTP, for admins only, even on a server that has no key yet (the
first key is made with ``tunehub keys create``, on the database): create (the key is
in this answer only), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from tunehub.schema import KeyCreate, KeyCreated, KeyList
from tunehub.server.api.bodies import json_body, request_body
from tunehub.server.api.convert import key_out
from tunehub.server.api.deps import EngineDep
from tunehub.server.api.placement import run_db
from tunehub.server.flows import keys as key_flow

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    openapi_extra=request_body(KeyCreate),
)
async def create_key(
    body: Annotated[KeyCreate, Depends(json_body(KeyCreate))],
    engine: EngineDep,
    request: Request,
) -> KeyCreated:
    row, key = await run_db(engine, lambda: key_flow.create_key(engine, body))
    request.app.state.gate.forget()
    return KeyCreated(**key_out(row).model_dump(), key=key)


@router.get("", response_model=KeyList)
async def list_keys(engine: EngineDep) -> KeyList:
    rows = await run_db(engine, lambda: key_flow.list_keys(engine))
    return KeyList(keys=[key_out(row) for row in rows])


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(
    # Any stored name, not only today's pattern: every key must stay revocable.
    name: str = Path(min_length=1, max_length=100, description="The key's name."),
    *,
    engine: EngineDep,
    request: Request,
) -> None:
    """Revoke a key. The last live admin key is refused (409): make another admin key
    first, so that keys can still be managed over HTTP."""
    await run_db(engine, lambda: key_flow.revoke_key(engine, name, keep_an_admin=True))
    request.app.state.gate.forget()
